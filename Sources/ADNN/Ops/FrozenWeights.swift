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
///
/// With `releasingWeights` (read on the outermost scope only) a weight that is packed is also given
/// back to the system while the scope lasts — its pages are released and only the packed copy stays
/// resident, as ONNX Runtime frees an initializer once its kernel has pre-packed it — and written back
/// from the packed copy when the scope ends, one weight at a time. Both directions go panel by panel,
/// giving back the pages already read, so a weight and its copy are never resident in full together.
/// Only for a caller that runs the model on this thread alone for the scope's duration (`adnn
/// predict`, `adnn bench --mode infer`): another thread packing the same weights meanwhile would read
/// the released pages as zeros. Weights shared with other tensors (views) and runs that force part
/// of the work off the packed path (`ADNN_PACKED_CONV_MAX_PIXELS`) keep their weights resident.
public func withFrozenWeights<T>(releasingWeights: Bool = false, _ body: () throws -> T) rethrows -> T {
    let scope = FrozenWeights.current(create: true)!
    if scope.depth == 0 { scope.releasesWeights = releasingWeights }
    scope.depth += 1
    defer {
        scope.depth -= 1
        if scope.depth == 0 { scope.close() }
    }
    return try body()
}

/// Whether a `withFrozenWeights` scope is open on the calling thread.
public var weightsAreFrozen: Bool { (FrozenWeights.current(create: false)?.depth ?? 0) > 0 }

/// One thread's `withFrozenWeights` state: nesting depth and the packed copies, keyed by weight
/// storage, offset, element count and layout, plus every other tensor and number the copy was made from.
final class FrozenWeights {
    struct Key: Hashable {
        static func == (a: Key, b: Key) -> Bool {
            a.storage == b.storage && a.offset == b.offset && a.count == b.count && a.layout == b.layout && a.parameter == b.parameter
                && a.companions.0 == b.companions.0 && a.companions.1 == b.companions.1
                && a.companions.2 == b.companions.2 && a.companions.3 == b.companions.3
        }
        func hash(into h: inout Hasher) {
            h.combine(storage); h.combine(offset); h.combine(count); h.combine(layout); h.combine(parameter)
            h.combine(companions.0); h.combine(companions.1); h.combine(companions.2); h.combine(companions.3)
        }
        let storage: ObjectIdentifier
        let offset: Int
        let count: Int
        let layout: Int
        /// The other tensors the copy is made from (storage, offset), in a fixed order; all absent for a
        /// copy of one tensor. Held inline: the key is built on every convolution of a forward.
        let companions: (Companion, Companion, Companion, Companion)
        /// A number the copy depends on (a batch norm's epsilon, as bits); 0 when none.
        let parameter: UInt32
    }
    struct Companion: Hashable {
        let storage: ObjectIdentifier?
        let offset: Int
        init(_ t: Tensor?) { storage = t.map { ObjectIdentifier($0.storage) }; offset = t?.offset ?? 0 }
    }
    /// Up to four companion tensors of a packed copy, by position (`nil` for an absent input).
    typealias Companions = (Tensor?, Tensor?, Tensor?, Tensor?)
    /// A packed copy; it holds the source storages so that their identities are not reused while cached.
    struct Packed {
        let sources: [Storage]
        let buffer: Storage
        /// Whether the buffer holds half-precision panels (`panels(of:)`).
        var half = false
    }
    /// A weight whose pages are released while the scope lasts, rebuilt from its packed copy at the end.
    struct Released {
        let storage: Storage
        let key: Key
        let outChannels: Int
        let inChannels: Int
        let width: Int
        let half: Bool
    }
    var depth = 0
    var packs: [Key: Packed] = [:]
    /// Whether packed weights give their pages back for the scope (`withFrozenWeights(releasingWeights:)`).
    var releasesWeights = false
    /// The weights released so far, in order, and their storages' identities.
    var released: [Released] = []
    var releasedStorages: Set<ObjectIdentifier> = []
    /// Smallest packed copy (floats) kept in pages of its own in a releasing scope, and smallest weight released.
    static let pageBackedFloats = 16 * 1024
    /// Floats held by `packs`.
    var packedFloats = 0
    /// Most floats one thread's scope keeps (1 GiB): weights computed afresh on every forward (a new
    /// storage each time) would otherwise pile up; past the cap they are packed per call.
    static let maxPackedFloats = 1 << 28

    /// Ends the outermost scope: every released weight is written back from its packed copy and that copy
    /// freed before the next one is restored (the resident set never holds both in full), then the rest go.
    func close() {
        for r in released {
            if let copy = packs.removeValue(forKey: r.key) {
                // The copy's pages go as its panels are read back (it has pages of its own).
                let releaser = PageMemory.Releaser(UnsafeMutableRawPointer(copy.buffer.pointer))
                if r.half {
                    unpackPointwiseWeights(r.storage.pointer, copy.buffer.halfPanels, outChannels: r.outChannels,
                                           inChannels: r.inChannels, width: r.width) { releaser.consumed($0 * 2) }
                } else {
                    unpackPointwiseWeights(r.storage.pointer, copy.buffer.pointer, outChannels: r.outChannels,
                                           inChannels: r.inChannels, width: r.width) { releaser.consumed($0 * 4) }
                }
            }
        }
        released.removeAll()
        releasedStorages.removeAll()
        packs.removeAll()
        packedFloats = 0
        releasesWeights = false
    }

    /// Floats of weights released in the calling thread's open scope (0 outside one).
    static var releasedFloats: Int {
        current(create: false)?.released.reduce(0) { $0 + $1.storage.count } ?? 0
    }

    /// The pthread key under which each thread keeps its state (one retained reference, released when the
    /// thread exits). Read on every convolution and linear layer: `Thread.current.threadDictionary` cost
    /// ≈ 1 µs a lookup (string hashing, bridging, a dynamic cast) — 3 % of the FER model's batch-1 forward.
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { state in
            if let state { Unmanaged<FrozenWeights>.fromOpaque(state).release() }
        }
        precondition(rc == 0, "FrozenWeights: pthread_key_create failed (\(rc))")
        return key
    }()

    /// The calling thread's state (made on first use when `create`).
    static func current(create: Bool) -> FrozenWeights? {
        if let state = pthread_getspecific(threadKey) { return Unmanaged<FrozenWeights>.fromOpaque(state).takeUnretainedValue() }
        guard create else { return nil }
        let s = FrozenWeights()
        pthread_setspecific(threadKey, Unmanaged.passRetained(s).toOpaque())
        return s
    }

    /// Whether packing `w` (into `packedCount` floats) in the calling thread's scope would release it: a
    /// releasing scope, a weight that owns its whole storage, not already released, large enough, the
    /// packed path forced nowhere off, and room in the scope's cache.
    static func willRelease(_ w: Tensor, packedCount count: Int) -> Bool {
        guard let scope = current(create: false), scope.releasesWeights, scope.depth > 0 else { return false }
        return PointwiseTuning.maxPixels == Int.max && w.offset == 0 && w.count == w.storage.count
            && w.count >= pageBackedFloats && !scope.releasedStorages.contains(ObjectIdentifier(w.storage))
            && scope.packedFloats + count <= maxPackedFloats
    }

    /// Whether `w` was released by the calling thread's open scope (its pages read as zero: only its
    /// packed copy may be used).
    static func isReleased(_ w: Tensor) -> Bool {
        current(create: false)?.releasedStorages.contains(ObjectIdentifier(w.storage)) ?? false
    }

    /// The open scope's copy of `w` (rows [O, K]: conv OHWI or linear [out, in]) packed into panels of
    /// `PointwiseTuning.panelWidth` by `packPointwiseWeights`, made on first use; that width; and whether the
    /// panels hold halves (`halfPanels` and every value of `w` exactly a half value: read them through
    /// `Storage.halfPanels`). In a releasing scope `w` is released as it is packed (`willRelease`).
    static func panels(of w: Tensor, outChannels O: Int, inChannels K: Int) -> (storage: Storage, width: Int, half: Bool) {
        let width = PointwiseTuning.panelWidth
        if let scope = current(create: false), let hit = scope.packs[key(w, companions: (nil, nil, nil, nil), parameter: 0, layout: width)] {
            return (hit.buffer, width, hit.half)
        }
        // Weights that are all exactly half-precision values (exported with `--half`) are packed as halves: the
        // same results, half the bytes to stream at batch 1.
        let values = packedPointwiseCount(outChannels: O, inChannels: K, width: width)
        let half = halfPanels && isExactlyHalf(w.ptr, count: w.count)
        let count = half ? (values + 1) / 2 : values
        // In a releasing scope a weight whose copy the scope will keep gives its pages back panel by panel as
        // they are packed, so the weight and its copy are never resident in full at once.
        let releasing = willRelease(w, packedCount: count)
        var packedNow = false
        let storage = packed(w, layout: width, count: count, half: half) { dst in
            packedNow = true
            let releaser = releasing ? PageMemory.Releaser(UnsafeMutableRawPointer(w.ptr)) : nil
            let afterPanel: ((Int) -> Void)? = releaser.map { r in { rows in r.consumed(rows * K * 4) } }
            if half {
                let halves = UnsafeMutableRawPointer(dst).bindMemory(to: Float16.self, capacity: values)
                packPointwiseWeights(halves, w.ptr, outChannels: O, inChannels: K, width: width, afterPanel: afterPanel)
            } else {
                packPointwiseWeights(dst, w.ptr, outChannels: O, inChannels: K, width: width, afterPanel: afterPanel)
            }
            releaser?.consumed(w.count * 4)
        }
        if releasing && packedNow, let scope = current(create: false) {
            // From here on every use of `w` in the scope reads the copy, never `w`.
            let key = key(w, companions: (nil, nil, nil, nil), parameter: 0, layout: width)
            scope.released.append(Released(storage: w.storage, key: key, outChannels: O, inChannels: K, width: width, half: half))
            scope.releasedStorages.insert(ObjectIdentifier(w.storage))
        }
        return (storage, width, half)
    }

    /// Whether `panels(of:)` packs weights that are all exactly half-precision values as halves (the results are
    /// the same bit for bit); `ADNN_HALF_PANELS=0` keeps Float panels, for comparisons.
    nonisolated(unsafe) static var halfPanels: Bool = ProcessInfo.processInfo.environment["ADNN_HALF_PANELS"] != "0"

    /// Layout key of a batch norm and conv bias folded to [scale | shift] (keyed by the running variance
    /// with the running mean, affine weights, conv bias and epsilon as companions).
    static let foldedBatchNormLayout = -2
    /// Layout key of depthwise weights in the kernel's [taps, C] order.
    static let depthwiseTapsLayout = -1

    /// The open scope's copy of depthwise weights `w` ([C, kh, kw, 1]) transposed to [kh·kw, C].
    static func depthwiseTaps(of w: Tensor, channels C: Int, taps T: Int) -> Storage {
        packed(w, layout: depthwiseTapsLayout, count: C * T) { depthwiseTransposeTaps($0, w.ptr, channels: C, taps: T) }
    }

    /// The cache key of `w`'s copy for `layout` made from `companions` and `parameter`.
    private static func key(_ w: Tensor, companions c: Companions, parameter: UInt32, layout: Int) -> Key {
        Key(storage: ObjectIdentifier(w.storage), offset: w.offset, count: w.count, layout: layout,
            companions: (Companion(c.0), Companion(c.1), Companion(c.2), Companion(c.3)), parameter: parameter)
    }

    /// The packed copy of `w` for `layout` in the calling thread's open scope, made by `pack` on first use.
    /// `companions` (position matters; `nil` for an absent input) and `parameter` name everything else
    /// `pack` reads, so a copy is reused only for exactly the same inputs.
    static func packed(_ w: Tensor, companions: Companions = (nil, nil, nil, nil), parameter: UInt32 = 0, layout: Int, count: Int,
                       half: Bool = false, pack: (UnsafeMutablePointer<Float>) -> Void) -> Storage {
        let scope = current(create: true)!
        let key = key(w, companions: companions, parameter: parameter, layout: layout)
        if let hit = scope.packs[key] { return hit.buffer }
        // In a releasing scope large copies get pages of their own, so each is gone from the resident set
        // the moment it is dropped (heap blocks stay resident).
        let buffer = scope.releasesWeights && count >= pageBackedFloats ? Storage(pageBackedCount: count) : Storage(count: count, zeroed: false)
        pack(buffer.pointer)
        if scope.depth > 0 && scope.packedFloats + count <= maxPackedFloats {
            scope.packs[key] = Packed(sources: [w.storage] + [companions.0, companions.1, companions.2, companions.3].compactMap { $0?.storage },
                                      buffer: buffer, half: half)
            scope.packedFloats += count
        }
        return buffer
    }
}

extension Storage {
    /// The buffer as half-precision panels (`FrozenWeights.panels(of:)` with `half`).
    var halfPanels: UnsafePointer<Float16> { UnsafeRawPointer(pointer).assumingMemoryBound(to: Float16.self) }
}
