import Foundation
import ADNNKernels

/// Runs `body` with the model's weights held constant, so that inference ops on this thread may keep
/// re-laid-out copies of weight tensors (1×1 convolution panels for `pointwiseConvScaleShiftActivation`)
/// from one call to the next instead of re-packing them on every forward — what ONNX Runtime does once
/// per session. Scopes nest; the copies are dropped when the thread's outermost scope ends. The scope
/// belongs to the calling thread: forwards on other threads are not affected.
///
/// Inside the scope no parameter may be written (no optimizer step, no EMA update, no weight
/// loading): a copy made before the write would be used after it. `predictProbabilities`, `adnn
/// bench --mode infer` and the video pipeline's classifier run their forwards inside one.
public func withFrozenWeights<T>(_ body: () throws -> T) rethrows -> T {
    let scope = FrozenWeights.current(create: true)!
    scope.depth += 1
    defer {
        scope.depth -= 1
        if scope.depth == 0 { scope.packs.removeAll(); scope.packedFloats = 0 }
    }
    return try body()
}

/// Whether a `withFrozenWeights` scope is open on the calling thread.
public var weightsAreFrozen: Bool { (FrozenWeights.current(create: false)?.depth ?? 0) > 0 }

/// One thread's `withFrozenWeights` state: nesting depth and the packed copies, keyed by weight
/// storage, offset, element count and layout.
final class FrozenWeights {
    struct Key: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        let count: Int
        let layout: Int
    }
    /// A packed copy; it holds the source storage so that its identity is not reused while cached.
    struct Packed {
        let source: Storage
        let buffer: Storage
    }
    var depth = 0
    var packs: [Key: Packed] = [:]
    /// Floats held by `packs`.
    var packedFloats = 0
    /// Most floats one thread's scope keeps (1 GiB): weights computed afresh on every forward (a new
    /// storage each time) would otherwise pile up; past the cap they are packed per call.
    static let maxPackedFloats = 1 << 28

    private static let threadKey = "adnn.frozenWeights"

    /// The calling thread's state (made on first use when `create`).
    static func current(create: Bool) -> FrozenWeights? {
        let dict = Thread.current.threadDictionary
        if let s = dict[threadKey] as? FrozenWeights { return s }
        guard create else { return nil }
        let s = FrozenWeights()
        dict[threadKey] = s
        return s
    }

    /// The open scope's copy of `w` (rows [O, K]: conv OHWI or linear [out, in]) packed into panels of
    /// `PointwiseTuning.panelWidth` by `packPointwiseWeights`, made on first use; and that width.
    static func panels(of w: Tensor, outChannels O: Int, inChannels K: Int) -> (storage: Storage, width: Int) {
        let width = PointwiseTuning.panelWidth
        let storage = packed(w, layout: width, count: packedPointwiseCount(outChannels: O, inChannels: K, width: width)) {
            packPointwiseWeights($0, w.ptr, outChannels: O, inChannels: K, width: width)
        }
        return (storage, width)
    }

    /// Layout key of a batch norm folded to [scale | shift] (keyed by its running variance, which belongs
    /// to one batch norm, always applied after the same convolution).
    static let foldedBatchNormLayout = -2
    /// Layout key of depthwise weights in the kernel's [taps, C] order.
    static let depthwiseTapsLayout = -1

    /// The open scope's copy of depthwise weights `w` ([C, kh, kw, 1]) transposed to [kh·kw, C].
    static func depthwiseTaps(of w: Tensor, channels C: Int, taps T: Int) -> Storage {
        packed(w, layout: depthwiseTapsLayout, count: C * T) { depthwiseTransposeTaps($0, w.ptr, channels: C, taps: T) }
    }

    /// The packed copy of `w` for `layout` in the calling thread's open scope, made by `pack` on first use.
    static func packed(_ w: Tensor, layout: Int, count: Int, pack: (UnsafeMutablePointer<Float>) -> Void) -> Storage {
        let scope = current(create: true)!
        let key = Key(storage: ObjectIdentifier(w.storage), offset: w.offset, count: w.count, layout: layout)
        if let hit = scope.packs[key] { return hit.buffer }
        let buffer = Storage(count: count, zeroed: false)
        pack(buffer.pointer)
        if scope.depth > 0 && scope.packedFloats + count <= maxPackedFloats {
            scope.packs[key] = Packed(source: w.storage, buffer: buffer)
            scope.packedFloats += count
        }
        return buffer
    }
}
