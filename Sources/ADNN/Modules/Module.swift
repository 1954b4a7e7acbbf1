import Foundation

/// How a stored tensor maps to its PyTorch checkpoint layout.
public enum CheckpointLayout {
    /// Same layout in memory and in the checkpoint.
    case plain
    /// Conv weight kept as OHWI `[O, kh, kw, I/g]` internally, OIHW `[O, I/g, kh, kw]` in checkpoints.
    case convOHWI
}

/// Errors from loading a state dict.
public enum StateDictError: Error, CustomStringConvertible {
    case missing([String])
    case unexpected([String])
    case shapeMismatch(name: String, expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case .missing(let k): return "missing tensors: \(k.prefix(8).joined(separator: ", "))\(k.count > 8 ? " … (\(k.count) in all)" : "")"
        case .unexpected(let k): return "unexpected tensors: \(k.prefix(8).joined(separator: ", "))\(k.count > 8 ? " … (\(k.count) in all)" : "")"
        case .shapeMismatch(let n, let e, let g): return "tensor \(n): expected shape \(e), got \(g)"
        }
    }
}

/// Base class of every layer and model.
///
/// Parameters, buffers and submodules are found by reflection (like MLX Swift): stored properties of
/// type `Tensor`, `Tensor?`, `Module`, `Module?`, `[Module]` and `[Tensor]`. A `Tensor` with
/// `requiresGrad` is a trainable parameter; one without is a buffer (running statistics, centers).
/// Names are the property names converted from camelCase to PyTorch's snake_case
/// (`convStem` → `conv_stem`, `runningMean` → `running_mean`), joined with dots, with array
/// elements numbered — so checkpoints use timm/PyTorch names (SPEC §1). `nameOverrides` handles
/// names that are not snake_case.
open class Module {
    /// Training mode (dropout, drop-path, batch statistics) vs evaluation mode.
    public private(set) var training = true

    public init() {}

    /// Property-name → checkpoint-name overrides for this module (e.g. `["classHead": "ClassHead"]`).
    open var nameOverrides: [String: String] { [:] }

    /// Checkpoint layout of a local tensor (override for conv weights).
    open func checkpointLayout(of localName: String) -> CheckpointLayout { .plain }

    /// Sets training or evaluation mode on this module and every submodule.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.training = on }
    }

    /// Evaluation mode (`train(false)`).
    public func eval() { train(false) }

    private func checkpointName(_ label: String) -> String {
        if let o = nameOverrides[label] { return o }
        var out = ""
        for ch in label {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }

    /// Direct children by reflection: (name, tensor) and (name, module) entries in declaration order.
    private func reflectChildren() -> (tensors: [(String, Tensor)], modules: [(String, Module)]) {
        var tensors: [(String, Tensor)] = [], modules: [(String, Module)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let m = mirror { levels.append(m); mirror = m.superclassMirror }
        for m in levels.reversed() {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("$") else { continue }
                let name = checkpointName(label)
                switch child.value {
                case let t as Tensor: tensors.append((name, t))
                case let t as Tensor?: if let t { tensors.append((name, t)) }
                case let mod as Module: modules.append((name, mod))
                case let mod as Module?: if let mod { modules.append((name, mod)) }
                case let arr as [Module]: for (i, mod) in arr.enumerated() { modules.append(("\(name).\(i)", mod)) }
                case let arr as [Module]?: for (i, mod) in (arr ?? []).enumerated() { modules.append(("\(name).\(i)", mod)) }
                case let arr as [[Module]]:
                    for (i, row) in arr.enumerated() { for (j, mod) in row.enumerated() { modules.append(("\(name).\(i).\(j)", mod)) } }
                case let arr as [Tensor]: for (i, t) in arr.enumerated() { tensors.append(("\(name).\(i)", t)) }
                default: break
                }
            }
        }
        return (tensors, modules)
    }

    /// This module and all submodules with dotted names ("" for self), depth first.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (name, m) in reflectChildren().modules {
            out += m.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
        return out
    }

    /// Every tensor (parameters and buffers) with its dotted name and owning module.
    public func namedTensors(prefix: String = "") -> [(name: String, tensor: Tensor, owner: Module, local: String)] {
        var out: [(name: String, tensor: Tensor, owner: Module, local: String)] = []
        for (mname, m) in namedModules(prefix: prefix) {
            for (tname, t) in m.reflectChildren().tensors {
                out.append((mname.isEmpty ? tname : mname + "." + tname, t, m, tname))
            }
        }
        return out
    }

    /// Trainable parameters with dotted names.
    public func namedParameters() -> [(String, Tensor)] {
        namedTensors().filter { $0.tensor.requiresGrad }.map { ($0.name, $0.tensor) }
    }

    /// Trainable parameters.
    public func parameters() -> [Tensor] { namedParameters().map { $0.1 } }

    /// Non-trainable tensors (running statistics, centers) with dotted names.
    public func namedBuffers() -> [(String, Tensor)] {
        namedTensors().filter { !$0.tensor.requiresGrad }.map { ($0.name, $0.tensor) }
    }

    /// Number of trainable parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Clears every parameter gradient.
    public func zeroGrad() { for p in parameters() { p.grad = nil } }

    /// Rounds every parameter and buffer to the nearest half-precision value, in place — the values `adnn export
    /// --half` stores (a tensor with a value outside half's range stays as it is, as export keeps it in F32).
    /// Frozen inference then packs the 1×1 and linear weights as halves (`withFrozenWeights`).
    /// - Returns: the number of tensors rounded.
    @discardableResult
    public func roundToHalfPrecision() -> Int {
        var rounded = 0
        for entry in namedTensors() {
            let t = entry.tensor
            guard SafeTensors.fitsHalf(t) else { continue }
            for i in 0..<t.count { t.ptr[i] = Float(Float16(t.ptr[i])) }
            rounded += 1
        }
        return rounded
    }

    /// All tensors in PyTorch layout under PyTorch names, in declaration order.
    public func stateDict() -> [(String, Tensor)] {
        namedTensors().map { entry in
            switch entry.owner.checkpointLayout(of: entry.local) {
            case .plain: return (entry.name, entry.tensor.detached())
            case .convOHWI: return (entry.name, noGrad { entry.tensor.permuted([0, 3, 1, 2]) })
            }
        }
    }

    /// Copies tensors from a PyTorch-layout state dict.
    ///
    /// - Parameter strict: when true, missing and unexpected names are errors (like PyTorch).
    /// - Returns: names that were missing and names that were unexpected (non-strict mode).
    @discardableResult
    public func load(stateDict: [String: Tensor], strict: Bool = true, prefix: String = "") throws -> (missing: [String], unexpected: [String]) {
        var missing: [String] = []
        var used = Set<String>()
        for entry in namedTensors() {
            let key = prefix + entry.name
            guard let src = stateDict[key] else {
                // Like PyTorch, BN checkpoints without `num_batches_tracked` still load.
                if !key.hasSuffix("num_batches_tracked") { missing.append(key) }
                continue
            }
            used.insert(key)
            let layout = entry.owner.checkpointLayout(of: entry.local)
            let value: Tensor = layout == .convOHWI && src.rank == 4 ? noGrad { src.permuted([0, 2, 3, 1]) } : src
            guard value.shape == entry.tensor.shape || (value.count == entry.tensor.count && (value.rank == 0 || entry.tensor.rank == 0)) else {
                let expected = layout == .convOHWI ? [entry.tensor.shape[0], entry.tensor.shape[3], entry.tensor.shape[1], entry.tensor.shape[2]] : entry.tensor.shape
                throw StateDictError.shapeMismatch(name: key, expected: expected, got: src.shape)
            }
            entry.tensor.assign(value)
        }
        let unexpected = stateDict.keys.filter { $0.hasPrefix(prefix) && !used.contains($0) }.sorted()
        if strict {
            if !missing.isEmpty { throw StateDictError.missing(missing) }
            if !unexpected.isEmpty { throw StateDictError.unexpected(unexpected) }
        }
        return (missing, unexpected)
    }
}
