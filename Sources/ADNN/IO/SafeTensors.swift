import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a `.safetensors` file; `description` names the file and what is wrong.
public typealias SafeTensorsError = FileFormatError<SafeTensorsErrorKind>

/// What is wrong with a file, for `SafeTensorsError`.
public enum SafeTensorsErrorKind: Sendable, Equatable {
    /// The file could not be opened, read, written or renamed.
    case io
    /// The file ends before the header or the tensor data it announces.
    case truncated
    /// The header is not a valid safetensors JSON header.
    case badHeader
    /// A tensor's `data_offsets` are inconsistent (outside the data, overlapping, wrong size).
    case badOffsets
    /// A dtype that `adnn` does not read (e.g. F8_E4M3).
    case unknownDtype
    /// A tensor name that is missing (`tensor(_:)`) or given twice (`write`).
    case badName
}

/// The contents of a safetensors file (https://github.com/huggingface/safetensors format):
/// 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
///
/// Every tensor is converted to a Float32 `Tensor` in the layout of the file (PyTorch layouts for
/// checkpoints; see `SPEC.md` §4). `order` lists the names in the order of their data in the file.
public struct SafeTensors {
    public var tensors: [String: Tensor]
    /// Names in file order (by data offset, then name).
    public var order: [String]
    /// The `__metadata__` map (empty when absent).
    public var metadata: [String: String]
    /// The dtype each tensor had in the file ("F32", "F16", "BF16", ...).
    public var dtypes: [String: String]

    public init(tensors: [String: Tensor] = [:], order: [String] = [], metadata: [String: String] = [:],
                dtypes: [String: String] = [:]) {
        self.tensors = tensors
        self.order = order
        self.metadata = metadata
        self.dtypes = dtypes
    }

    /// The tensors as (name, tensor) pairs in file order.
    public var ordered: [(String, Tensor)] { order.map { ($0, tensors[$0]!) } }

    /// The tensor called `name`, or an error naming the file (`path`) and the missing tensor.
    public func tensor(_ name: String, path: String = "safetensors") throws -> Tensor {
        guard let t = tensors[name] else {
            throw SafeTensorsError(path: path, kind: .badName, message: "no tensor named '\(name)'")
        }
        return t
    }

    // MARK: - Reading

    /// Bytes per element of each dtype read (all converted to Float32).
    static let dtypeSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2,
        "I64": 8, "I32": 4, "I16": 2, "I8": 1,
        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    ]

    /// Reads a whole safetensors file (memory-mapped), converting every tensor to Float32.
    public static func read(_ path: String) throws -> SafeTensors {
        func fail(_ kind: SafeTensorsError.Kind, _ message: String) -> SafeTensorsError {
            SafeTensorsError(path: path, kind: kind, message: message)
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw fail(.io, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail(.io, "cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw fail(.io, "is a directory, not a safetensors file") }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw fail(.truncated, "truncated file: \(size) bytes, shorter than the 8-byte header length")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw fail(.io, "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        defer { munmap(base, size) }
        return try parse(UnsafeRawBufferPointer(start: UnsafeRawPointer(base), count: size), path: path)
    }

    /// Parses safetensors bytes (`path` only names the source in errors).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> SafeTensors {
        func fail(_ kind: SafeTensorsError.Kind, _ message: String) -> SafeTensorsError {
            SafeTensorsError(path: path, kind: kind, message: message)
        }
        let size = bytes.count
        guard size >= 8, let base = bytes.baseAddress else {
            throw fail(.truncated, "truncated file: \(size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8) else {
            throw fail(.truncated, "truncated file: header length \(headerLength) exceeds the \(size - 8) bytes after it"
                       + (headerLength > 100_000_000 ? " (not a safetensors file?)" : ""))
        }
        let n = Int(headerLength)
        guard n >= 2, base.load(fromByteOffset: 8, as: UInt8.self) == UInt8(ascii: "{") else {
            throw fail(.badHeader, "bad header: does not start with a JSON object (not a safetensors file?)")
        }
        let headerData = Data(bytes: base + 8, count: n)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData, options: [])
        } catch {
            throw fail(.badHeader, "bad header: invalid JSON (\(n) bytes)")
        }
        guard let header = json as? [String: Any] else {
            throw fail(.badHeader, "bad header: not a JSON object")
        }

        var result = SafeTensors()
        struct Entry { let name, dtype: String; let shape: [Int]; let begin, end: Int }
        var entries: [Entry] = []
        entries.reserveCapacity(header.count)
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else {
                    throw fail(.badHeader, "bad header: __metadata__ is not a JSON object")
                }
                for (k, v) in meta {
                    guard let s = v as? String else {
                        throw fail(.badHeader, "bad header: __metadata__ value of '\(k)' is not a string")
                    }
                    result.metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw fail(.badHeader, "bad header: entry '\(name)' is not a JSON object")
            }
            guard let dtype = info["dtype"] as? String else {
                throw fail(.badHeader, "bad header: tensor '\(name)' has no dtype")
            }
            guard let shape = intArray(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail(.badHeader, "bad header: tensor '\(name)' has no valid shape")
            }
            guard let offsets = intArray(info["data_offsets"]), offsets.count == 2 else {
                throw fail(.badHeader, "bad header: tensor '\(name)' has no valid data_offsets")
            }
            guard let elementSize = dtypeSizes[dtype] else {
                throw fail(.unknownDtype, "unknown dtype '\(dtype)' of tensor '\(name)' "
                           + "(adnn reads \(dtypeSizes.keys.sorted().joined(separator: ", ")))")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else {
                throw fail(.badOffsets, "bad offsets: tensor '\(name)' has data_offsets [\(begin), \(end)]")
            }
            let (numel, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            let (bytes, overflow2) = numel.multipliedReportingOverflow(by: elementSize)
            guard !overflow, !overflow2, bytes == end - begin else {
                throw fail(.badOffsets, "bad offsets: tensor '\(name)' (\(dtype) \(shape)) needs "
                           + "\(overflow || overflow2 ? "too many" : String(bytes)) bytes, data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // Offsets must tile the data section exactly (as the reference library checks).
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        let dataSize = size - 8 - n
        var position = 0
        for e in entries {
            guard e.begin == position else {
                throw fail(.badOffsets, e.begin < position
                           ? "bad offsets: tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] overlap the previous tensor"
                           : "bad offsets: gap of \(e.begin - position) bytes before tensor '\(e.name)'")
            }
            position = e.end
        }
        if position > dataSize {
            let first = entries.first { $0.end > dataSize }!
            throw fail(.truncated, "truncated file: tensor '\(first.name)' data_offsets [\(first.begin), \(first.end)] lie "
                       + "outside the \(dataSize)-byte data section (the header describes \(position) bytes)")
        }
        if position < dataSize {
            throw fail(.badOffsets, "bad offsets: \(dataSize - position) bytes after the last tensor's data")
        }

        let data = base + 8 + n
        for e in entries {
            let t = Tensor.empty(e.shape)
            convert(t.ptr, data + e.begin, count: t.count, dtype: e.dtype)
            result.tensors[e.name] = t
            result.order.append(e.name)
            result.dtypes[e.name] = e.dtype
        }
        return result
    }

    private static func intArray(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(array.count)
        for v in array {
            if let i = v as? Int { out.append(i) }
            else if let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) { out.append(i) }
            else { return nil }
        }
        return out
    }

    /// Little-endian `src` of `dtype` → Float32 `dst` (the host is little-endian on every supported platform).
    private static func convert(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeRawPointer, count: Int, dtype: String) {
        @inline(__always) func each<T>(_ type: T.Type, _ f: (T) -> Float) {
            let stride = MemoryLayout<T>.size
            for i in 0..<count { dst[i] = f(src.loadUnaligned(fromByteOffset: i * stride, as: T.self)) }
        }
        switch dtype {
        case "F32": UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case "F64": each(Double.self) { Float($0) }
        case "F16": each(UInt16.self) { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
        case "BF16": each(UInt16.self) { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
        case "I64": each(Int64.self) { Float(Int64(littleEndian: $0)) }
        case "I32": each(Int32.self) { Float(Int32(littleEndian: $0)) }
        case "I16": each(Int16.self) { Float(Int16(littleEndian: $0)) }
        case "I8": each(Int8.self) { Float($0) }
        case "U64": each(UInt64.self) { Float(UInt64(littleEndian: $0)) }
        case "U32": each(UInt32.self) { Float(UInt32(littleEndian: $0)) }
        case "U16": each(UInt16.self) { Float(UInt16(littleEndian: $0)) }
        case "U8": each(UInt8.self) { Float($0) }
        case "BOOL": each(UInt8.self) { $0 != 0 ? 1 : 0 }
        default: preconditionFailure("SafeTensors: dtype \(dtype) passed validation but has no converter")
        }
    }

    // MARK: - Writing

    /// Whether every value of `t` stays finite in half precision.
    static func fitsHalf(_ t: Tensor) -> Bool {
        for i in 0..<t.count where !Float16(t.ptr[i]).isFinite { return false }
        return true
    }

    /// The header of a safetensors file holding `tensors` with `metadata`, and the tensors in file order
    /// with whether each is stored as F16 (`half` and every value finite in half precision) or F32.
    ///
    /// Like the Python library: tensors sorted by name (byte order), `__metadata__` first (keys sorted
    /// here, for reproducible files), compact JSON, header padded with spaces to a multiple of 8 bytes.
    static func header(_ tensors: [(String, Tensor)], metadata: [String: String], path: String, half: Bool = false) throws
        -> (header: [UInt8], sorted: [(name: String, tensor: Tensor, f16: Bool)]) {
        var seen = Set<String>()
        for (name, _) in tensors where !seen.insert(name).inserted {
            throw SafeTensorsError(path: path, kind: .badName, message: "tensor name '\(name)' given twice")
        }
        if seen.contains("__metadata__") {
            throw SafeTensorsError(path: path, kind: .badName, message: "'__metadata__' cannot name a tensor")
        }
        let sorted = tensors.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }.map { (name: $0.0, tensor: $0.1, f16: half && fitsHalf($0.1)) }
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for (name, t, f16) in sorted {
            let bytes = t.count * (f16 ? 2 : 4)
            if !first { json += "," }
            first = false
            json += "\(jsonString(name)):{\"dtype\":\"\(f16 ? "F16" : "F32")\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        return (header, sorted)
    }

    /// JSON string literal with serde_json's escaping (`"`, `\`, control characters; UTF-8 kept).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Writes `tensors` (as F32) and `metadata` to `path` atomically: the bytes go to
    /// `<path>.tmp-<pid>`, are fsync'ed, and the file is renamed over `path`.
    /// - Parameter half: tensors whose every value is finite in IEEE half precision are stored as
    ///   `F16` (half the bytes; the reader converts them back exactly); the others stay `F32`.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String,
                             half: Bool = false) throws {
        let (header, sorted) = try header(tensors, metadata: metadata, path: path, half: half)
        let tmp = "\(path).tmp-\(getpid())"
        func fail(_ what: String) -> SafeTensorsError {
            SafeTensorsError(path: path, kind: .io, message: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw fail("cannot create \(tmp)") }
        var ok = false
        defer {
            if !ok { close(fd); unlink(tmp) }
        }
        func writeAll(_ p: UnsafeRawPointer, _ count: Int) throws {
            var done = 0
            while done < count {
                let w = posixWrite(fd, p + done, count - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot write \(tmp)")
                }
                done += w
            }
        }
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try writeAll($0.baseAddress!, 8) }
        try header.withUnsafeBytes { try writeAll($0.baseAddress!, header.count) }
        for (_, t, f16) in sorted where t.count > 0 {
            if f16 {
                var h = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { h[i] = Float16(t.ptr[i]).bitPattern.littleEndian }
                try h.withUnsafeBytes { try writeAll($0.baseAddress!, t.count * 2) }
            } else {
                try writeAll(UnsafeRawPointer(t.ptr), t.count * 4)
            }
        }
        guard fsync(fd) == 0 else { throw fail("cannot fsync \(tmp)") }
        ok = true
        guard close(fd) == 0 else { unlink(tmp); throw fail("cannot close \(tmp)") }
        guard rename(tmp, path) == 0 else { let e = fail("cannot rename \(tmp)"); unlink(tmp); throw e }
        // Make the rename itself durable (best effort).
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Writes these tensors (in `order`) and metadata to `path` atomically.
    public func write(to path: String) throws {
        try SafeTensors.write(ordered, metadata: metadata, to: path)
    }
}

/// `write(2)` (the name is shadowed inside `SafeTensors`).
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Int { write(fd, p, count) }
