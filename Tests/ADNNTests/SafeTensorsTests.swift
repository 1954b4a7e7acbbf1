import Foundation
import XCTest
@testable import ADNN
@testable import ADNNTrain

/// Path of a committed fixture (Tests/ADNNTests/Fixtures, made by Scripts/make_fixtures.py).
func fixturePath(_ name: String) -> String {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
}

final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("adnn-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes a file from a header string (padded to 8 bytes) and data bytes.
    func craft(_ name: String, header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> String {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var bytes = withUnsafeBytes(of: (lengthOverride ?? UInt64(h.count)).littleEndian) { Array($0) }
        bytes += h + data
        let p = path(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func expectError(_ p: String, _ kind: SafeTensorsError.Kind, containing text: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try SafeTensors.read(p)
            XCTFail("read of \(p) should fail (\(kind))", file: file, line: line)
        } catch let e as SafeTensorsError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix(p), "error should name the file: \(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(text), "error should say '\(text)': \(e)", file: file, line: line)
            XCTAssertEqual(e.localizedDescription, e.description, file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testRoundTrip() throws {
        let tensors: [(String, Tensor)] = [
            ("zeta.weight", randn([3, 4, 2, 2], seed: 1)),
            ("alpha", randn([7], seed: 2)),
            ("Beta", randn([2, 3], seed: 3)),
            ("scalar", Tensor(scalar: -2.5)),
            ("empty", Tensor(zeros: [0, 3])),
            ("blocks.10.x", randn([1], seed: 4)),
            ("blocks.2.x", randn([5, 1], seed: 5)),
        ]
        let p = path("round.safetensors")
        try SafeTensors.write(tensors, metadata: ["format": "adnn/1", "epoch": "3"], to: p)
        let st = try SafeTensors.read(p)
        // Names sorted bytewise, like the Python library (all F32).
        XCTAssertEqual(st.order, ["Beta", "alpha", "blocks.10.x", "blocks.2.x", "empty", "scalar", "zeta.weight"])
        XCTAssertEqual(st.metadata, ["format": "adnn/1", "epoch": "3"])
        for (name, t) in tensors {
            let r = try st.tensor(name, path: p)
            XCTAssertEqual(r.shape, t.shape, name)
            XCTAssertEqual(r.scalars, t.scalars, name)
            XCTAssertEqual(st.dtypes[name], "F32")
        }
        XCTAssertEqual(st.ordered.map { $0.0 }, st.order)
        // Header and data are 8-byte aligned; the file is exactly header + data.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | (Int($1.1) << (8 * $1.0)) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(bytes.count, 8 + n + tensors.reduce(0) { $0 + $1.1.count * 4 })
        // Instance write reproduces the same bytes.
        try st.write(to: path("again.safetensors"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("again.safetensors"))), bytes)
    }

    func testMetadataEscapingRoundTrip() throws {
        let config = #"{"model": {"backbone": "efficientnet_b5", "cbam": null}, "lr": 3.0e-4, "tab\t": "a\\b"}"#
        let meta = ["config": config, "classes": #"["neutral","happiness"]"#, "weird": "é ✓ \u{1} \n\r\"",
                    "empty": ""]
        let p = path("meta.safetensors")
        try SafeTensors.write([("w", randn([2], seed: 1))], metadata: meta, to: p)
        XCTAssertEqual(try SafeTensors.read(p).metadata, meta)
        // No metadata: no __metadata__ key at all (as Python writes it).
        try SafeTensors.write([("w", randn([2], seed: 1))], metadata: [:], to: p)
        let header = String(decoding: try Data(contentsOf: URL(fileURLWithPath: p)).dropFirst(8), as: UTF8.self)
        XCTAssertFalse(header.contains("__metadata__"))
        XCTAssertEqual(try SafeTensors.read(p).metadata, [:])
    }

    /// A file written by Python's `safetensors` with one tensor of each dtype the reader converts.
    func testReadsPythonFileOfEveryDtype() throws {
        let p = fixturePath("python_dtypes.safetensors")
        let st = try SafeTensors.read(p)
        XCTAssertEqual(st.metadata["format"], "adnn/1")
        XCTAssertEqual(st.metadata["note"], "quote \" backslash \\ newline \n unicode é")
        let expected: [String: ([Int], [Float], String)] = [
            "f32": ([2, 3], [-1, -0.5, 0, 0.5, 1, 1.5], "F32"),
            "f16": ([6], [1, -2.5, 0.125, 1024, 0.0009765625, 65504], "F16"),
            "bf16": ([5], [1, -2.5, 0.125, 0x1p100, -0x1p-100], "BF16"),
            "f64": ([3], [1.5, -0.25, 1e10], "F64"),
            "i64": ([4], [-3, 0, 7, 1_099_511_627_776], "I64"),
            "i32": ([2, 1], [-5, 123_456], "I32"),
            "u8": ([3], [0, 255, 7], "U8"),
            "bool": ([3], [1, 0, 1], "BOOL"),
            "scalar": ([], [3.25], "F32"),
            "empty": ([0, 3], [], "F32"),
        ]
        XCTAssertEqual(Set(st.order), Set(expected.keys))
        for (name, (shape, values, dtype)) in expected {
            let t = try st.tensor(name)
            XCTAssertEqual(t.shape, shape, name)
            XCTAssertEqual(t.scalars, values, name)
            XCTAssertEqual(st.dtypes[name], dtype, name)
        }
        // File order is data order: the library sorts by its dtype enum (descending), then name.
        XCTAssertEqual(st.order, ["i64", "f64", "empty", "f32", "scalar", "i32", "bf16", "f16", "u8", "bool"])
    }

    /// Our writer produces byte-identical files to Python's `safetensors.torch.save_file`.
    func testWriterMatchesPythonBytes() throws {
        let py = fixturePath("python_f32.safetensors")
        let st = try SafeTensors.read(py)
        XCTAssertEqual(st.order, ["bias", "blocks.0.conv_dw.weight", "weight"])
        XCTAssertEqual(try st.tensor("weight").scalars, [-0.5, -0.25, 0, 0.25, 0.5, 0.75])
        // Shuffle the input order: the writer sorts.
        let p = path("ours.safetensors")
        try SafeTensors.write(st.ordered.reversed(), metadata: st.metadata, to: p)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p)), try Data(contentsOf: URL(fileURLWithPath: py)))
    }

    func testAtomicWriteReplacesAndLeavesNoTemporary() throws {
        let p = path("ckpt.safetensors")
        try SafeTensors.write([("a", randn([100], seed: 1))], metadata: ["epoch": "1"], to: p)
        try SafeTensors.write([("b", randn([3], seed: 2))], metadata: ["epoch": "2"], to: p)
        let st = try SafeTensors.read(p)
        XCTAssertEqual(st.order, ["b"])
        XCTAssertEqual(st.metadata["epoch"], "2")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["ckpt.safetensors"])
        // A write into a missing folder fails cleanly, naming the file.
        XCTAssertThrowsError(try SafeTensors.write([("a", Tensor(scalar: 1))], to: path("nope/x.safetensors"))) { e in
            XCTAssertEqual((e as? SafeTensorsError)?.kind, .io)
            XCTAssertTrue("\(e)".contains("nope/x.safetensors"), "\(e)")
        }
        XCTAssertThrowsError(try SafeTensors.write([("a", Tensor(scalar: 1)), ("a", Tensor(scalar: 2))], to: p)) { e in
            XCTAssertEqual((e as? SafeTensorsError)?.kind, .badName)
        }
    }

    func testTruncatedFilesGiveErrors() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: fixturePath("python_f32.safetensors")))
        let n = good.prefix(8).enumerated().reduce(0) { $0 | (Int($1.1) << (8 * $1.0)) }
        func cut(_ length: Int) -> String {
            let p = path("cut\(length).safetensors")
            _ = FileManager.default.createFile(atPath: p, contents: good.prefix(length))
            return p
        }
        expectError(cut(0), .truncated, containing: "truncated")
        expectError(cut(5), .truncated, containing: "truncated")
        expectError(cut(8 + n / 2), .truncated, containing: "header length")
        expectError(cut(8 + n + 10), .truncated, containing: "outside")
        expectError(cut(good.count - 1), .truncated, containing: "truncated")
        XCTAssertNoThrow(try SafeTensors.read(cut(good.count)))
        expectError(path("missing.safetensors"), .io, containing: "cannot open")
        expectError(dir.path, .io, containing: "directory")
    }

    func testCorruptFilesGiveErrors() throws {
        let f32x2 = [UInt8](repeating: 0, count: 8)
        expectError(craft("json.st", header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]"#, data: f32x2),
                    .badHeader, containing: "JSON")
        expectError(craft("nojson.st", header: "garbage!", data: f32x2), .badHeader, containing: "header")
        expectError(craft("array.st", header: "[1, 2]", data: []), .badHeader, containing: "header")
        expectError(craft("huge.st", header: "{}", data: [], lengthOverride: 1 << 40), .truncated, containing: "header length")
        expectError(craft("dtype.st", header: #"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0]),
                    .unknownDtype, containing: "F8_E4M3")
        expectError(craft("noshape.st", header: #"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: f32x2),
                    .badHeader, containing: "shape")
        expectError(craft("meta.st", header: #"{"__metadata__":{"epoch":3}}"#, data: []), .badHeader, containing: "epoch")
        expectError(craft("size.st", header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: f32x2),
                    .badOffsets, containing: "'a'")
        expectError(craft("outside.st", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: f32x2),
                    .badOffsets, containing: "gap")
        expectError(craft("overlap.st", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                          data: f32x2), .badOffsets, containing: "overlap")
        expectError(craft("reversed.st", header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: f32x2),
                    .badOffsets, containing: "[8, 0]")
        expectError(craft("trailing.st", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f32x2),
                    .badOffsets, containing: "after the last tensor")
        expectError(craft("beyond.st", header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: f32x2),
                    .truncated, containing: "outside the 8-byte data section")
        // A valid crafted file reads.
        let ok = try SafeTensors.read(craft("ok.st", header: #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                                            data: [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]))
        XCTAssertEqual(ok.order, ["a", "b"])
        XCTAssertEqual(ok.tensors["a"]?.scalars, [1])
        XCTAssertEqual(ok.tensors["b"]?.scalars, [2])
        XCTAssertThrowsError(try ok.tensor("c", path: "x.st")) { e in
            XCTAssertEqual("\(e)", "x.st: no tensor named 'c'")
        }
    }
}
