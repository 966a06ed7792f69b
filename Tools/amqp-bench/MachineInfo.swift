import Foundation
import Toolbox

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The machine and broker the figures were measured on.
struct MachineInfo: Sendable, Codable {
    /// Cores this process may use.
    var nproc: Int
    /// CPU model from /proc/cpuinfo.
    var cpuModel: String?
    /// Physical memory in GiB.
    var memoryGiB: Double
    /// 1, 5 and 15-minute load average when the run started (other users' work shows here).
    var loadAverageAtStart: String?
    /// Kernel release.
    var kernel: String?
    /// RabbitMQ and Erlang versions from the management API, nil when it did not answer.
    var rabbitmqVersion: String?
    var erlangVersion: String?

    /// One line for the report.
    var summary: String {
        var parts = ["nproc \(nproc)"]
        if let cpuModel { parts.append(cpuModel) }
        parts.append(String(format: "%.1f GiB RAM", memoryGiB))
        if let kernel { parts.append("Linux \(kernel)") }
        parts.append("RabbitMQ \(rabbitmqVersion ?? "version unknown (management API not reachable)")")
        if let erlangVersion { parts.append("Erlang \(erlangVersion)") }
        if let loadAverageAtStart { parts.append("load average at start \(loadAverageAtStart)") }
        return parts.joined(separator: ", ")
    }

    /// Reads the machine from /proc and asks the management API for the versions (two-second limit).
    static func collect(managementURL: String, user: String, password: String) async -> MachineInfo {
        let versions = await brokerVersions(managementURL: managementURL, user: user, password: password)
        return MachineInfo(
            nproc: Machine.cores, cpuModel: Machine.cpuModel, memoryGiB: Machine.memoryGiB,
            loadAverageAtStart: Machine.loadAverage, kernel: Machine.kernelRelease, rabbitmqVersion: versions?.rabbitmq,
            erlangVersion: versions?.erlang)
    }

    private struct Overview: Decodable {
        var rabbitmqVersion: String?
        var erlangVersion: String?

        private enum CodingKeys: String, CodingKey {
            case rabbitmqVersion = "rabbitmq_version"
            case erlangVersion = "erlang_version"
        }
    }

    private static func brokerVersions(managementURL: String, user: String, password: String) async
        -> (rabbitmq: String?, erlang: String?)?
    {
        let base = managementURL.hasSuffix("/") ? String(managementURL.dropLast()) : managementURL
        guard let url = URL(string: "\(base)/api/overview") else { return nil }
        var request = URLRequest(url: url, timeoutInterval: 2)
        let credentials = Data("\(user):\(password)".utf8).base64EncodedString()
        request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
        guard let (data, response) = try? await URLSession.shared.data(for: request),
            (response as? HTTPURLResponse)?.statusCode == 200,
            let overview = try? JSONDecoder().decode(Overview.self, from: data)
        else { return nil }
        return (overview.rabbitmqVersion, overview.erlangVersion)
    }
}
