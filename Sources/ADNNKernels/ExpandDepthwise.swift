// The first two convolutions of an inverted-residual block — 1×1 expansion, then depthwise — as one
// parallel job for frozen inference on small images (the late stages at batch 1, where each op is a few
// microseconds and the cost of a job's hand-out and of the threads' uneven finish is paid per op).
// Each work item is one panel of the expansion's output channels (32 or 16): the item computes those
// channels of the expanded tensor for every pixel, then the depthwise convolution of the same channels,
// which needs no other channel — so the expanded values are read back by the thread that wrote them,
// from its own cache, and one job replaces two. `pointwiseConvScaleShiftActivation` followed by
// `depthwiseConv2dDirect` is the twin in the tests.

import Foundation

/// When the fused job is taken.
public enum ExpandDepthwiseTuning {
    /// Most input pixels (all images) of a fused block: an item's slice of the expanded tensor, 32 channels of
    /// every pixel, stays in L2 (2,048 pixels: 256 KiB). `ADNN_FUSED_BLOCK_MAX_PIXELS` overrides it (0 turns
    /// the fusion off, for comparisons).
    nonisolated(unsafe) public static var maxPixels: Int = {
        if let s = ProcessInfo.processInfo.environment["ADNN_FUSED_BLOCK_MAX_PIXELS"], let v = Int(s), v >= 0 { return v }
        return 2048
    }()
}

/// Whether `expandDepthwiseScaleShiftActivation` takes a block whose depthwise geometry is `g` (its input
/// being the expansion's output), with `threads` threads: a direct-kernel depthwise, at most
/// `ExpandDepthwiseTuning.maxPixels` input pixels, at least four panels per thread.
public func expandDepthwiseApplies(_ g: Conv2DGeometry, width: Int, threads: Int) -> Bool {
    depthwiseDirectApplies(g) && g.batch * g.inHeight * g.inWidth <= ExpandDepthwiseTuning.maxPixels
        && panelLayout(g.inChannels, width).count >= 4 * Swift.max(1, threads)
}

/// z = dwAct(depthwise(e, taps)·dwScale + dwShift) with e = act(x · Wᵀ·scale + shift), the expansion's W
/// packed by `packPointwiseWeights` (Float or half panels) at panel width `width`; `e` is the caller's scratch for the expanded
/// tensor. `g` is the depthwise geometry (inChannels = the expansion's output channels M).
// z: [N, Ho, Wo, M], e: [N, H, W, M], x: [N, H, W, K], packed: [panels, K, width], scale, shift: [M],
// taps: [k·k, M], dwScale, dwShift: [M]
@_specialize(exported: true, where W == Float)
@_specialize(exported: true, where W == Float16)
public func expandDepthwiseScaleShiftActivation<W: PanelScalar>(_ z: UnsafeMutablePointer<Float>, _ e: UnsafeMutablePointer<Float>,
                                                                _ x: UnsafePointer<Float>, _ packed: UnsafePointer<W>,
                                                                scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?,
                                                                activation: ActivationKind?, inChannels K: Int, width: Int,
                                                                taps: UnsafePointer<Float>, dwScale: UnsafePointer<Float>?,
                                                                dwShift: UnsafePointer<Float>?, dwActivation: ActivationKind?,
                                                                _ g: Conv2DGeometry) {
    g.validate()
    precondition(depthwiseDirectApplies(g), "expandDepthwiseScaleShiftActivation: depthwise geometry \(g) has no direct kernel")
    precondition(width == 16 || width == 32, "expandDepthwiseScaleShiftActivation: width \(width) must be 16 or 32")
    let M = g.inChannels, P = g.batch * g.inHeight * g.inWidth
    if P == 0 || M == 0 { return }
    precondition(K > 0, "expandDepthwiseScaleShiftActivation: the expansion needs input channels")
    let (panels, narrowLast) = panelLayout(M, width)
    parallelFor(panels) { r in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: smallTileFloats) { tile in
            for p in r {
                let o0 = p * width, valid = Swift.min(width, M - o0)
                pointwiseRows(e, x, packed + p * K * width, scale: scale, shift: shift, activation: activation,
                              rows: 0..<P, column: o0, validColumns: valid, K: K, O: M,
                              wide: width == 32 && !(narrowLast && p == panels - 1))
                depthwiseDirectChannels(z, UnsafePointer(e), taps: taps, scale: dwScale, shift: dwShift, activation: dwActivation,
                                        g, channels: o0..<(o0 + valid), tile: tile.baseAddress!)
            }
        }
    }
}
