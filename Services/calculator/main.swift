/// Runs the command in an async context, so that ArgumentParser's async entry point is the one chosen.
enum Entry {
    static func start() async { await CalculatorCommand.main() }
}

await Entry.start()
