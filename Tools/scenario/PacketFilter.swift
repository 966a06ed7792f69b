import Foundation

/// Drops packets with nftables: a real network cut (silence, no FIN, no RST) between a service and the TCP proxy
/// the scenario put in front of its server, without touching any other connection of the machine.
struct PacketFilter: Sendable {
    let table: String

    /// Drops every packet to and from `port` on this machine (loopback traffic passes the output hook both ways)
    /// until ``remove()``.
    static func drop(port: Int, table: String) throws -> PacketFilter {
        let rules = """
            table inet \(table) {
                chain output {
                    type filter hook output priority 0; policy accept;
                    tcp dport \(port) drop
                    tcp sport \(port) drop
                }
            }
            """
        let (status, output) = run(["-f", "-"], input: rules)
        guard status == 0 else {
            throw ScenarioError(
                "nft could not install the cut (\(output.trimmingCharacters(in: .whitespacesAndNewlines))): "
                    + "postgres-cut needs nftables (apt-get install nftables) and root")
        }
        return PacketFilter(table: table)
    }

    /// Removes the rules: the network is back.
    func remove() { _ = Self.run(["delete", "table", "inet", table], input: nil) }

    private static func run(_ arguments: [String], input: String?) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/nft")
        p.arguments = arguments
        let out = Pipe()
        let stdin = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = stdin
        do { try p.run() } catch { return (127, "cannot run /usr/sbin/nft: \(error)") }
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
