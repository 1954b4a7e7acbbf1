import Foundation
import XCTest
@testable import ADNN

/// Inputs found by the libFuzzer targets in Fuzz/ (`Scripts/fuzz.sh`): each used to trap or corrupt memory;
/// each must now load or fail with one error naming the file.
final class FuzzRegressionTests: XCTestCase {
    /// A file of the committed fuzz corpus (`Fuzz/corpus/TARGET/NAME`).
    private func corpusFile(_ target: String, _ name: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [UInt8](try Data(contentsOf: root.appendingPathComponent("Fuzz/corpus/\(target)/\(name)")))
    }

    /// A zip whose end-of-central-directory record announces a central directory of ~2^64 bytes: the error
    /// message computed `offset + size` and overflowed.
    func testPthCentralDirectorySizeOverflow() throws {
        let bytes = try corpusFile("fuzz-pth", "crash-central-directory-size.pth")
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try TorchPickle.parseStateDict($0, path: "cd.pth") }) { error in
            XCTAssertNotNil(error as? TorchPickleError, "\(error)")
            XCTAssertTrue("\(error)".hasPrefix("cd.pth: "), "\(error)")
        }
    }

    /// A legacy `.pth` whose tensor of size [1, 2] has stride Int.max on its size-1 dimension: stepping the
    /// gather odometer overflowed. The stride of a size-1 dimension is irrelevant, so the tensor loads.
    func testPthHugeStrideOnSizeOneDimension() throws {
        func unicode(_ s: String) -> [UInt8] { [0x8c, UInt8(s.utf8.count)] + Array(s.utf8) }  // SHORT_BINUNICODE
        func long(_ v: Int) -> [UInt8] { [0x8a, 8] + (0..<8).map { UInt8((UInt64(bitPattern: Int64(v)) >> (8 * UInt64($0))) & 0xff) } }
        let magic: [UInt8] = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        let version: [UInt8] = [0x80, 2, 0x4d, 0xe9, 0x03, 0x2e]
        let info: [UInt8] = [0x80, 2, 0x7d, 0x2e]
        var object: [UInt8] = [0x80, 2, 0x7d] + unicode("w")
        object += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28]                  // GLOBAL, MARK
        object += [0x28] + unicode("storage") + Array("ctorch\nFloatStorage\n".utf8) + unicode("0") + unicode("cpu")
        object += [0x4b, 4, 0x74, 0x51]                                                          // numel 4, TUPLE, BINPERSID
        object += [0x4b, 1]                                                                      // storage offset 1
        object += [0x4b, 1, 0x4b, 2, 0x86]                                                       // size (1, 2)
        object += long(Int.max) + [0x4b, 2, 0x86]                                                // stride (Int.max, 2)
        object += [0x74, 0x52, 0x73, 0x2e]                                                       // TUPLE, REDUCE, SETITEM, STOP
        let keys: [UInt8] = [0x80, 2, 0x5d] + unicode("0") + [0x61, 0x2e]
        var file = magic + version + info + object + keys
        file += (0..<8).map { UInt8(truncatingIfNeeded: 4 >> (8 * $0)) }
        for v: Float in [10, 11, 12, 13] { file += withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let sd = try file.withUnsafeBytes { try TorchPickle.parseStateDict($0, path: "stride.pth") }
        let w = try XCTUnwrap(sd["w"])
        XCTAssertEqual(w.shape, [1, 2])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: w.ptr, count: w.count)), [11, 13])
    }

    /// A pickle that appends a list to itself (`l.append(l)`) leaked the list (a reference cycle); the
    /// unpickler now empties every container it built once done.
    func testPickleSelfReferenceIsFreed() throws {
        let pickle: [UInt8] = [0x80, 2, 0x5d, 0x32, 0x61, 0x2e]          // PROTO 2, EMPTY_LIST, DUP, APPEND, STOP
        weak var weakList: PickleList?
        try pickle.withUnsafeBytes { raw in
            var vm = Unpickler(bytes: raw, reader: ByteReader(bytes: raw, path: "cycle.pkl"), what: "pickle")
            guard case .list(let list) = try vm.load() else { return XCTFail("not a list") }
            XCTAssertTrue(list.items.count == 1)
            weakList = list
            vm.releaseContainers()
        }
        XCTAssertNil(weakList, "the self-referencing list was not freed")
        // The fuzz input (a legacy-format header whose first pickle builds such a list) fails cleanly.
        let bytes = try corpusFile("fuzz-pth", "leak-list-cycle.pth")
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try TorchPickle.parseStateDict($0, path: "leak.pth") }) { error in
            XCTAssertTrue("\(error)".hasPrefix("leak.pth: "), "\(error)")
        }
    }
}
