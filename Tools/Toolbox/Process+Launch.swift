import Foundation

extension Process {
    /// Starts `executable` with `arguments`, in this process's environment with `environment` on top, its standard
    /// output and error going to `output` (to this process's own when nil).
    ///
    /// How the tools start the services, the benchmarked executables and deploy/local's scripts as child processes.
    public static func launch(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], output: FileHandle? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let output {
            process.standardOutput = output
            process.standardError = output
        }
        try process.run()
        return process
    }
}

extension FileHandle {
    /// The file at `path` opened for a child's output: emptied first (created when missing), or, with `appending`,
    /// kept and written after its end (a restarted service goes on in the log of its first start).
    public static func log(at path: String, appending: Bool = false) throws -> FileHandle {
        if !appending { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        if appending { handle.seekToEndOfFile() }
        return handle
    }
}
