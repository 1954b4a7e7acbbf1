extension Module {
    /// Runs `body` with this module and every submodule in evaluation mode, then gives each module
    /// back its own previous mode (explainers must not leave a training model switched).
    func inEvaluationMode<T>(_ body: () throws -> T) rethrows -> T {
        let modes = namedModules().map { ($0.1, $0.1.training) }
        if modes.allSatisfy({ !$0.1 }) { return try body() }
        eval()
        // `namedModules` is pre-order, so each module's own flag is applied after its ancestors'.
        defer { for (m, on) in modes { m.train(on) } }
        return try body()
    }
}
