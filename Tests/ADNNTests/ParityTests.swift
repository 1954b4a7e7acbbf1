import XCTest
@testable import ADNN
@testable import ADNNTrain
import ADNNKernels

/// Our ops against PyTorch references (Scripts/make_fixtures.py → Tests/ADNNTests/Fixtures).
///
/// Each fixture holds inputs/parameters in PyTorch layout, the output `y`, an upstream gradient `r`,
/// and the float64 gradients of (y · r).sum(), saved as float32. Activations go NCHW → NHWC with
/// `permuted([0, 2, 3, 1])` (conv weights OIHW → OHWI alike) and back with `permuted([0, 3, 1, 2])`.
final class ParityTests: XCTestCase {
    static let forwardTol: (atol: Float, rtol: Float) = (1e-4, 1e-4)
    static let backwardTol: (atol: Float, rtol: Float) = (1e-3, 1e-3)

    /// A loaded fixture with helpers to fetch tensors in our layouts.
    struct Fixture {
        let name: String
        let file: SafeTensors

        init(_ name: String) throws {
            self.name = name
            file = try SafeTensors.read(fixturePath(name + ".safetensors"))
        }

        /// Tensor as stored (PyTorch layout), detached copy.
        func raw(_ key: String) throws -> Tensor { try file.tensor(key, path: name).copy() }
        /// NCHW → NHWC (or OIHW → OHWI), detached copy.
        func nhwc(_ key: String) throws -> Tensor { try file.tensor(key, path: name).permuted([0, 2, 3, 1]) }
        /// A leaf that requires grad.
        func leaf(_ t: Tensor) -> Tensor { t.requiresGrad = true; return t }
        func meta(_ key: String) -> String { file.metadata[key] ?? "" }
        func int(_ key: String) -> Int { Int(meta(key))! }
        func float(_ key: String) -> Float { Float(meta(key))! }
        func bool(_ key: String) -> Bool { meta(key) == "true" }
    }

    static func nchw(_ t: Tensor) -> Tensor { noGrad { t.permuted([0, 3, 1, 2]) } }

    /// Forward check of `y` (in our layout, converted by `toTorch`), then backward of (y · r).sum()
    /// and the gradients of `inputs` (name → our tensor, compared after `toTorch`).
    func check(_ f: Fixture, y: Tensor, toTorch: (Tensor) -> Tensor = { $0 },
               fromTorch: (Tensor) -> Tensor = { $0 }, grads: [(String, Tensor, (Tensor) -> Tensor)],
               file: StaticString = #filePath, line: UInt = #line) throws {
        let (fa, fr) = Self.forwardTol, (ba, br) = Self.backwardTol
        assertClose(toTorch(y.detached()), try f.raw("y"), atol: fa, rtol: fr, "\(f.name): forward y", file: file, line: line)
        let r = fromTorch(try f.raw("r"))
        (y * r).sum().backward()
        for (key, t, convert) in grads {
            guard let g = t.grad else {
                XCTFail("\(f.name): no gradient for \(key)", file: file, line: line)
                continue
            }
            assertClose(convert(g), try f.raw("grad_" + key), atol: ba, rtol: br, "\(f.name): grad_\(key)",
                        file: file, line: line)
        }
    }

    // MARK: conv

    func checkConv(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Fixture(name)
        let x = f.leaf(try f.nhwc("x")), w = f.leaf(try f.nhwc("weight"))
        let b = f.file.tensors["bias"] == nil ? nil : f.leaf(try f.raw("bias"))
        let p = f.meta("padding").split(separator: ",").map { Int($0)! }
        let padding = Padding2D(top: p[0], bottom: p[1], left: p[2], right: p[3])
        let stride = f.int("stride"), dilation = f.int("dilation")
        if f.bool("same") {
            // Our TF "SAME" helper must agree with timm's pad_same (asymmetric: extra at bottom/right).
            let same = Padding2D.same(inputHeight: x.dim(1), inputWidth: x.dim(2), kernel: f.int("kernel"),
                                      stride: stride, dilation: dilation)
            XCTAssertEqual([same.top, same.bottom, same.left, same.right], p, "\(name): Padding2D.same",
                           file: file, line: line)
        }
        let y = conv2d(x, w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: f.int("groups"))
        var grads: [(String, Tensor, (Tensor) -> Tensor)] = [("x", x, Self.nchw), ("weight", w, Self.nchw)]
        if let b { grads.append(("bias", b, { $0 })) }
        try check(f, y: y, toTorch: Self.nchw, fromTorch: { $0.permuted([0, 2, 3, 1]) }, grads: grads,
                  file: file, line: line)
    }

    func testConv2d3x3Stride2() throws { try checkConv("conv2d_3x3_s2") }
    func testDepthwise5x5Stride1Same() throws { try checkConv("dwconv5x5_s1_same") }
    func testDepthwise5x5Stride2Same() throws { try checkConv("dwconv5x5_s2_same") }
    func testConv1x1() throws { try checkConv("conv1x1") }

    // MARK: normalisation

    func checkBatchNorm(_ name: String, training: Bool) throws {
        let f = try Fixture(name)
        XCTAssertEqual(f.bool("training"), training)
        let x = f.leaf(try f.nhwc("x")), w = f.leaf(try f.raw("weight")), b = f.leaf(try f.raw("bias"))
        let rm = try f.raw("running_mean"), rv = try f.raw("running_var")
        let y = batchNorm(x, weight: w, bias: b, runningMean: rm, runningVar: rv, training: training,
                          momentum: f.float("momentum"), eps: f.float("eps"))
        if training {
            assertClose(rm, try f.raw("running_mean_out"), atol: Self.forwardTol.atol, rtol: Self.forwardTol.rtol,
                        "\(name): running_mean after the update")
            assertClose(rv, try f.raw("running_var_out"), atol: Self.forwardTol.atol, rtol: Self.forwardTol.rtol,
                        "\(name): running_var after the update")
        } else {
            XCTAssertEqual(rm.scalars, try f.raw("running_mean").scalars, "\(name): eval must not touch running_mean")
            XCTAssertEqual(rv.scalars, try f.raw("running_var").scalars, "\(name): eval must not touch running_var")
        }
        try check(f, y: y, toTorch: Self.nchw, fromTorch: { $0.permuted([0, 2, 3, 1]) },
                  grads: [("x", x, Self.nchw), ("weight", w, { $0 }), ("bias", b, { $0 })])
    }

    func testBatchNormTrain() throws { try checkBatchNorm("batchnorm_train", training: true) }
    func testBatchNormEval() throws { try checkBatchNorm("batchnorm_eval", training: false) }

    func testLayerNorm() throws {
        let f = try Fixture("layernorm")
        let x = f.leaf(try f.raw("x")), w = f.leaf(try f.raw("weight")), b = f.leaf(try f.raw("bias"))
        let y = layerNorm(x, weight: w, bias: b, eps: f.float("eps"))
        try check(f, y: y, grads: [("x", x, { $0 }), ("weight", w, { $0 }), ("bias", b, { $0 })])
    }

    // MARK: activations, softmax, losses

    func testGELU() throws {
        let f = try Fixture("gelu")
        let x = f.leaf(try f.raw("x"))
        try check(f, y: x.gelu(), grads: [("x", x, { $0 })])
    }

    func testSiLU() throws {
        let f = try Fixture("silu")
        let x = f.leaf(try f.raw("x"))
        try check(f, y: x.silu(), grads: [("x", x, { $0 })])
    }

    func testSoftmax() throws {
        let f = try Fixture("softmax")
        let x = f.leaf(try f.raw("x"))
        try check(f, y: x.softmax(axis: f.int("axis")), grads: [("x", x, { $0 })])
    }

    func testCrossEntropyHardLabels() throws {
        let f = try Fixture("cross_entropy_hard")
        let logits = f.leaf(try f.raw("logits"))
        let labels = try f.raw("labels").scalars.map { Int($0) }
        let y = softmaxCrossEntropy(logits, labels: labels)
        XCTAssertEqual(y.shape, [])
        try check(f, y: y, grads: [("logits", logits, { $0 })])
    }

    func testCrossEntropySoftTargets() throws {
        let f = try Fixture("cross_entropy_soft")
        let logits = f.leaf(try f.raw("logits"))
        let y = softmaxCrossEntropy(logits, softTargets: try f.raw("targets"))
        XCTAssertEqual(y.shape, [])
        try check(f, y: y, grads: [("logits", logits, { $0 })])
    }

    // MARK: resize

    func checkResize(_ name: String) throws {
        let f = try Fixture(name)
        let x = f.leaf(try f.nhwc("x"))
        let mode: ResizeMode = f.meta("mode") == "bicubic" ? .bicubic : .bilinear
        let y = resize(x, height: f.int("height"), width: f.int("width"), mode: mode,
                       alignCorners: f.bool("align_corners"), antialias: f.bool("antialias"))
        try check(f, y: y, toTorch: Self.nchw, fromTorch: { $0.permuted([0, 2, 3, 1]) }, grads: [("x", x, Self.nchw)])
    }

    func testBicubicUpscale() throws { try checkResize("bicubic_up") }
    func testBicubicDownscale() throws { try checkResize("bicubic_down") }
    func testBicubicDownscaleAntialias() throws { try checkResize("bicubic_down_aa") }
    func testBicubicUpscaleAlignCorners() throws { try checkResize("bicubic_up_align_corners") }
    func testBilinearUpscale() throws { try checkResize("bilinear_up") }

    /// Every committed op fixture is exercised by a test above (catches a fixture added to the script only).
    func testEveryFixtureIsCovered() throws {
        let dir = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix("python_") }
            .map { String($0.dropLast(".safetensors".count)) }.sorted()
        XCTAssertEqual(names, ["batchnorm_eval", "batchnorm_train", "bicubic_down", "bicubic_down_aa", "bicubic_up",
                               "bicubic_up_align_corners", "bilinear_up", "conv1x1", "conv2d_3x3_s2", "cross_entropy_hard",
                               "cross_entropy_soft", "dwconv5x5_s1_same", "dwconv5x5_s2_same", "gelu", "layernorm",
                               "silu", "softmax"])
    }
}
