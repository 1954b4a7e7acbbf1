import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a PyTorch `.pth` file; `description` names the file and what is wrong.
public typealias TorchPickleError = FileFormatError<TorchPickleErrorKind>

/// What is wrong with a file, for `TorchPickleError`.
public enum TorchPickleErrorKind: Sendable, Equatable {
    /// The file could not be opened or read.
    case io
    /// The file ends before a record, pickle or storage it announces.
    case truncated
    /// The bytes are not a valid `torch.save` archive or pickle.
    case badFormat
    /// Valid, but uses something `adnn` does not read (compressed zip entries, big-endian data, an unknown dtype).
    case unsupported
}

/// Reads PyTorch `torch.save` state dicts without Python.
///
/// Two container formats are understood:
/// - the zip format (PyTorch ≥ 1.6 default): a ZIP archive of stored (uncompressed) entries,
///   `<archive>/data.pkl` (the pickled object) and one raw little-endian storage per
///   `<archive>/data/<key>`; ZIP64 records are honoured;
/// - the legacy format (`_use_new_zipfile_serialization=False`, and every file written by PyTorch
///   < 1.6): five consecutive pickles (magic number, protocol version, system info, the object, the
///   storage keys) followed by each storage as an 8-byte element count and its raw bytes.
///
/// The pickle is executed by a small virtual machine that knows the opcodes of protocols 2–4 that
/// `torch.save` emits and only the globals a state dict needs (`collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, storage types); other
/// objects become opaque placeholders and are never executed. Tensors of any dtype in
/// {float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool} and any strides
/// are gathered into contiguous Float32 `Tensor`s (an int64 `num_batches_tracked` becomes a float scalar).
public enum TorchPickle {
    /// The tensors of a state dict saved with `torch.save(model.state_dict(), path)`, or of the
    /// state dict inside a checkpoint dict under `"state_dict"` or `"model"`.
    ///
    /// Names are returned as stored (a `module.` prefix left by `DataParallel` is kept).
    /// Entries whose values are not tensors are skipped.
    public static func readStateDict(_ path: String) throws -> [String: Tensor] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TorchPickleError(path: path, kind: .io, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TorchPickleError(path: path, kind: .io, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw TorchPickleError(path: path, kind: .io, message: "is a directory, not a .pth file")
        }
        let size = Int(st.st_size)
        guard size > 0 else { throw TorchPickleError(path: path, kind: .truncated, message: "truncated file: it is empty") }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw TorchPickleError(path: path, kind: .io,
                                   message: "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        defer { munmap(base, size) }
        return try parseStateDict(UnsafeRawBufferPointer(start: UnsafeRawPointer(base), count: size), path: path)
    }

    /// Parses the bytes of a `torch.save` file (`path` only names the source in errors).
    public static func parseStateDict(_ bytes: UnsafeRawBufferPointer, path: String) throws -> [String: Tensor] {
        let reader = ByteReader(bytes: bytes, path: path)
        guard bytes.count >= 4 else {
            throw reader.error(.truncated, "truncated file: \(bytes.count) bytes is too short for a .pth file")
        }
        if reader.peekU32(0) == 0x0403_4b50 {
            return try readZipFormat(reader)
        }
        if bytes[0] == 0x80 {
            return try readLegacyFormat(reader)
        }
        throw reader.error(.badFormat, "not a PyTorch checkpoint: neither a zip archive nor a pickle "
                           + "(first bytes \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))")
    }

    // MARK: - Zip format

    private static func readZipFormat(_ reader: ByteReader) throws -> [String: Tensor] {
        let zip = try ZipArchive(reader)
        let pickles = zip.entries.keys.filter { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        guard let pklName = pickles.min(by: { ($0.count, $0) < ($1.count, $1) }) else {
            throw reader.error(.badFormat, "zip archive has no data.pkl entry (not a torch.save file; entries: "
                               + zip.entries.keys.sorted().prefix(5).joined(separator: ", ") + ")")
        }
        let prefix = String(pklName.dropLast("data.pkl".count))
        if let order = zip.entries[prefix + "byteorder"] {
            let text = String(decoding: try zip.bytes(of: order), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" else {
                throw reader.error(.unsupported, "storages are \(text)-endian; adnn reads little-endian .pth files only")
            }
        }
        let pickle = try zip.bytes(of: zip.entries[pklName]!)
        var vm = Unpickler(bytes: pickle, reader: reader, what: pklName)
        defer { vm.releaseContainers() }
        let root = try vm.load()
        let stateDict = try selectStateDict(root, reader)
        return try materialize(stateDict, reader) { ref in
            guard let entry = zip.entries[prefix + "data/" + ref.key] else {
                throw reader.error(.badFormat, "storage '\(ref.key)' has no entry \(prefix)data/\(ref.key) in the archive")
            }
            let data = try zip.bytes(of: entry)
            return (UnsafeRawPointer(data.baseAddress ?? reader.base), data.count / ref.dtype.size)
        }
    }

    // MARK: - Legacy format

    /// `0x1950a86a20f9469cfc6c`, little-endian two's complement, as pickled by `torch.save`.
    private static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    private static func readLegacyFormat(_ reader: ByteReader) throws -> [String: Tensor] {
        var vm = Unpickler(bytes: reader.bytes, reader: reader, what: "pickle")
        defer { vm.releaseContainers() }
        guard case .bigInt(let magic) = try vm.load(), magic == legacyMagic else {
            throw reader.error(.badFormat, "not a PyTorch checkpoint: a pickle without torch.save's magic number "
                               + "(torch.load could not read it either)")
        }
        guard case .int(let version) = try vm.load(), version == 1001 else {
            throw reader.error(.unsupported, "legacy .pth protocol version is not 1001")
        }
        if case .dict(let info) = try vm.load(), case .bool(false)? = info[string: "little_endian"] {
            throw reader.error(.unsupported, "storages are big-endian; adnn reads little-endian .pth files only")
        }
        let root = try vm.load()
        guard case .list(let keyList) = try vm.load() else {
            throw reader.error(.badFormat, "legacy .pth: the storage key list after the object is not a list")
        }
        // Raw storages follow in key-list order: int64 element count, then the elements.
        var position = vm.position
        var table: [String: (offset: Int, count: Int)] = [:]
        for item in keyList.items {
            guard case .string(let key) = item else {
                throw reader.error(.badFormat, "legacy .pth: storage key list holds a non-string")
            }
            guard let dtype = vm.storageTypes[key] else {
                throw reader.error(.badFormat, "legacy .pth: storage '\(key)' is listed but never used by the object")
            }
            guard position + 8 <= reader.count else {
                throw reader.error(.truncated, "truncated file: storage '\(key)' header at byte \(position) "
                                   + "lies past the end (\(reader.count) bytes)")
            }
            let count = Int(Int64(littleEndian: reader.base.loadUnaligned(fromByteOffset: position, as: Int64.self)))
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard count >= 0, !overflow else {
                throw reader.error(.badFormat, "legacy .pth: storage '\(key)' has invalid element count \(count)")
            }
            guard bytes <= reader.count - position - 8 else {
                throw reader.error(.truncated, "truncated file: storage '\(key)' needs \(bytes) bytes at byte \(position + 8), "
                                   + "the file has \(reader.count)")
            }
            table[key] = (position + 8, count)
            position += 8 + bytes
        }
        let stateDict = try selectStateDict(root, reader)
        return try materialize(stateDict, reader) { ref in
            guard let (offset, count) = table[ref.key] else {
                throw reader.error(.badFormat, "legacy .pth: storage '\(ref.key)' is missing from the storage key list")
            }
            return (reader.base + offset, count)
        }
    }

    // MARK: - State dict extraction

    /// The dict that holds the tensors: the root, or its `"state_dict"` / `"model"` entry.
    private static func selectStateDict(_ root: PickleValue, _ reader: ByteReader) throws -> PickleDict {
        guard case .dict(let dict) = root else {
            throw reader.error(.badFormat, "the saved object is \(root.kindName), not a state dict "
                               + "(save model.state_dict() instead of the model)")
        }
        for key in ["state_dict", "model"] {
            switch dict[string: key] {
            case .dict(let inner)?: return inner
            case .object(let name)?:
                throw reader.error(.unsupported, "checkpoint entry '\(key)' is a pickled \(name) object, not a state dict "
                                   + "(save model.state_dict() instead of the model)")
            default: continue
            }
        }
        guard dict.values.contains(where: { if case .tensor = $0 { return true } else { return false } }) else {
            let keys = dict.keys.compactMap { if case .string(let s) = $0 { return "'\(s)'" } else { return nil } }
            throw reader.error(.badFormat, "no tensors in the saved dict and no 'state_dict' or 'model' entry "
                               + "(keys: \(keys.prefix(8).joined(separator: ", ")))")
        }
        return dict
    }

    /// Gathers every tensor entry of `dict` from its storage into a contiguous Float32 tensor.
    private static func materialize(_ dict: PickleDict, _ reader: ByteReader,
                                    storage: (StorageRef) throws -> (UnsafeRawPointer, Int)) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in zip(dict.keys, dict.values) {
            guard case .string(let name) = k, case .tensor(let ref) = v else { continue }
            let (base, count) = try storage(ref.storage)
            out[name] = try gather(ref, from: base, storageCount: count, name: name, reader)
        }
        return out
    }

    private static func gather(_ ref: TensorRef, from base: UnsafeRawPointer, storageCount: Int,
                               name: String, _ reader: ByteReader) throws -> Tensor {
        // The stride of a size-1 dimension is never used to step; zero it so a corrupt value cannot overflow.
        let size = ref.size, dtype = ref.storage.dtype
        let stride = size.count == ref.stride.count ? zip(size, ref.stride).map { $0 == 1 ? 0 : $1 } : ref.stride
        let where_ = "tensor '\(name)' (size \(size), stride \(stride), offset \(ref.offset))"
        guard size.count == stride.count, size.allSatisfy({ $0 >= 0 }), ref.offset >= 0 else {
            throw reader.error(.badFormat, "\(where_) has an invalid layout")
        }
        var (numel, overflow) = (1, false)
        for d in size {
            let (p, o) = numel.multipliedReportingOverflow(by: d)
            numel = p; overflow = overflow || o
        }
        guard !overflow else { throw reader.error(.badFormat, "\(where_) is too large") }
        if numel == 0 { return Tensor.empty(size) }
        // Elements reachable by the view (strides of saved tensors are never negative, but check both ends).
        let (start, o1) = ref.storage.offset.addingReportingOverflow(ref.offset)
        guard !o1 else { throw reader.error(.badFormat, "\(where_) has an invalid storage offset") }
        var lowest = start, highest = start
        for (d, s) in zip(size, stride) {
            let (span, o2) = (d - 1).multipliedReportingOverflow(by: s)
            let (moved, o3) = (s < 0 ? lowest : highest).addingReportingOverflow(span)
            guard !o2, !o3 else { throw reader.error(.badFormat, "\(where_) is too large") }
            if s < 0 { lowest = moved } else { highest = moved }
        }
        guard lowest >= 0, highest < storageCount else {
            throw reader.error(.badFormat, "\(where_) reaches element \(lowest < 0 ? lowest : highest) "
                               + "of a \(dtype.name) storage '\(ref.storage.key)' holding \(storageCount)")
        }
        // Only broadcast (stride-0) views hold more elements than their storage; keep those small so a
        // corrupt size cannot request an enormous allocation.
        guard numel <= storageCount || numel <= 1 << 24 else {
            throw reader.error(.badFormat, "\(where_) has \(numel) elements but its storage holds \(storageCount)")
        }
        let t = Tensor.empty(size)
        let dst = t.ptr
        // Contiguous: one linear conversion.
        var expected = 1, contiguous = true
        for (d, s) in zip(size, stride).reversed() where d != 1 {
            if s != expected { contiguous = false; break }
            expected *= d
        }
        if contiguous {
            dtype.convert(dst, base, from: start, count: numel)
            return t
        }
        // Strided: odometer over the outer dimensions, a strided run along the last one.
        let rank = size.count
        let inner = size[rank - 1], innerStride = stride[rank - 1]
        var index = [Int](repeating: 0, count: rank - 1)
        var source = start, written = 0
        while written < numel {
            dtype.convert(dst + written, base, from: source, count: inner, stride: innerStride)
            written += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                source += stride[axis]
                if index[axis] < size[axis] { break }
                source -= stride[axis] * size[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return t
    }
}

// MARK: - Dtypes

/// Element type of a torch storage.
enum TorchDType {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// From a storage class name (`torch.FloatStorage`, …).
    init?(storageType: String) {
        switch storageType {
        case "torch.FloatStorage": self = .float32
        case "torch.HalfStorage": self = .float16
        case "torch.BFloat16Storage": self = .bfloat16
        case "torch.DoubleStorage": self = .float64
        case "torch.LongStorage": self = .int64
        case "torch.IntStorage": self = .int32
        case "torch.ShortStorage": self = .int16
        case "torch.CharStorage": self = .int8
        case "torch.ByteStorage": self = .uint8
        case "torch.BoolStorage": self = .bool
        default: return nil
        }
    }

    /// Bytes per element.
    var size: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    var name: String { "\(self)" }

    /// Converts `count` little-endian elements of `src`, starting at element `first` and `stride`
    /// elements apart, to Float32 at `dst`.
    func convert(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeRawPointer, from first: Int, count: Int, stride: Int = 1) {
        @inline(__always) func each<T>(_ type: T.Type, _ f: (T) -> Float) {
            let es = MemoryLayout<T>.size
            for i in 0..<count { dst[i] = f(src.loadUnaligned(fromByteOffset: (first + i * stride) * es, as: T.self)) }
        }
        switch self {
        case .float32:
            if stride == 1 {
                UnsafeMutableRawPointer(dst).copyMemory(from: src + first * 4, byteCount: count * 4)
            } else {
                each(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
            }
        case .float16: each(UInt16.self) { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
        case .bfloat16: each(UInt16.self) { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
        case .float64: each(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
        case .int64: each(Int64.self) { Float(Int64(littleEndian: $0)) }
        case .int32: each(Int32.self) { Float(Int32(littleEndian: $0)) }
        case .int16: each(Int16.self) { Float(Int16(littleEndian: $0)) }
        case .int8: each(Int8.self) { Float($0) }
        case .uint8: each(UInt8.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }
}

// MARK: - Bytes and zip

/// Bounds-checked little-endian reads over the whole file, with the file path for errors.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var base: UnsafeRawPointer { bytes.baseAddress! }
    var count: Int { bytes.count }

    func error(_ kind: TorchPickleError.Kind, _ message: String) -> TorchPickleError {
        TorchPickleError(path: path, kind: kind, message: message)
    }

    func peekU32(_ offset: Int) -> UInt32? {
        offset >= 0 && offset <= count - 4 ? UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) : nil
    }

    func u16(_ offset: Int, _ what: String) throws -> Int { Int(try load(offset, UInt16.self, what)) }
    func u32(_ offset: Int, _ what: String) throws -> Int { Int(try load(offset, UInt32.self, what)) }
    func u64(_ offset: Int, _ what: String) throws -> Int {
        let v = try load(offset, UInt64.self, what)
        guard v <= UInt64(Int.max) else { throw error(.badFormat, "corrupt zip archive: \(what) is \(v)") }
        return Int(v)
    }

    private func load<T: FixedWidthInteger>(_ offset: Int, _ type: T.Type, _ what: String) throws -> T {
        guard offset >= 0, offset <= count - MemoryLayout<T>.size else {
            throw error(.truncated, "truncated file: \(what) at byte \(offset) lies past the end (\(count) bytes)")
        }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// The stored entries of a ZIP archive, read from its central directory.
struct ZipArchive {
    struct Entry { let name: String; let localHeader: Int; let size: Int; let method: Int }

    let reader: ByteReader
    private(set) var entries: [String: Entry] = [:]

    init(_ reader: ByteReader) throws {
        self.reader = reader
        // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the end.
        var eocd = -1
        var i = reader.count - 22
        while i >= max(0, reader.count - 22 - 65535) {
            if reader.peekU32(i) == 0x0605_4b50, i + 22 + (try reader.u16(i + 20, "comment length")) <= reader.count {
                eocd = i; break
            }
            i -= 1
        }
        guard eocd >= 0 else {
            throw reader.error(.truncated, "truncated or corrupt zip archive: no end-of-central-directory record")
        }
        var total = try reader.u16(eocd + 10, "entry count")
        var cdSize = try reader.u32(eocd + 12, "central directory size")
        var cdOffset = try reader.u32(eocd + 16, "central directory offset")
        // ZIP64: a locator just before the record points at the 64-bit end-of-central-directory record.
        if eocd >= 20, reader.peekU32(eocd - 20) == 0x0706_4b50 {
            let record = try reader.u64(eocd - 20 + 8, "zip64 record offset")
            guard reader.peekU32(record) == 0x0606_4b50 else {
                throw reader.error(.badFormat, "corrupt zip archive: zip64 end-of-central-directory record missing at byte \(record)")
            }
            total = try reader.u64(record + 32, "zip64 entry count")
            cdSize = try reader.u64(record + 40, "zip64 central directory size")
            cdOffset = try reader.u64(record + 48, "zip64 central directory offset")
        }
        guard cdOffset <= reader.count, cdSize <= reader.count - cdOffset else {
            throw reader.error(.truncated, "truncated zip archive: central directory of \(cdSize) bytes at byte \(cdOffset) "
                               + "lies past the end (\(reader.count) bytes)")
        }
        var p = cdOffset
        for _ in 0..<total {
            guard reader.peekU32(p) == 0x0201_4b50 else {
                throw reader.error(.badFormat, "corrupt zip archive: bad central directory entry at byte \(p)")
            }
            let flags = try reader.u16(p + 8, "entry flags")
            let method = try reader.u16(p + 10, "compression method")
            var compressed = try reader.u32(p + 20, "compressed size")
            var uncompressed = try reader.u32(p + 24, "uncompressed size")
            let nameLength = try reader.u16(p + 28, "name length")
            let extraLength = try reader.u16(p + 30, "extra length")
            let commentLength = try reader.u16(p + 32, "comment length")
            var local = try reader.u32(p + 42, "local header offset")
            guard p <= reader.count - 46 - nameLength - extraLength - commentLength else {
                throw reader.error(.truncated, "truncated zip archive: central directory entry at byte \(p)")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: reader.bytes[(p + 46)..<(p + 46 + nameLength)]), as: UTF8.self)
            // ZIP64 extended information: 64-bit values for the fields that hold 0xFFFFFFFF, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = try reader.u16(e, "extra field id"), length = try reader.u16(e + 2, "extra field length")
                if id == 0x0001 {
                    var q = e + 4
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try reader.u64(q, "zip64 size"); q += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try reader.u64(q, "zip64 compressed size"); q += 8 }
                    if local == 0xFFFF_FFFF { local = try reader.u64(q, "zip64 local header offset"); q += 8 }
                }
                e += 4 + length
            }
            if flags & 1 != 0 {
                throw reader.error(.unsupported, "zip entry \(name) is encrypted")
            }
            if method == 0 && compressed != uncompressed {
                throw reader.error(.badFormat, "corrupt zip archive: stored entry \(name) has sizes \(compressed) and \(uncompressed)")
            }
            entries[name] = Entry(name: name, localHeader: local, size: compressed, method: method)
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The raw bytes of a stored entry (throws for compressed entries and data past the end).
    func bytes(of entry: Entry) throws -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw reader.error(.unsupported, "zip entry \(entry.name) is compressed (method \(entry.method)); "
                               + "torch.save writes stored entries only")
        }
        guard reader.peekU32(entry.localHeader) == 0x0403_4b50 else {
            throw reader.error(.badFormat, "corrupt zip archive: no local header for \(entry.name) at byte \(entry.localHeader)")
        }
        let start = entry.localHeader + 30 + (try reader.u16(entry.localHeader + 26, "name length"))
            + (try reader.u16(entry.localHeader + 28, "extra length"))
        guard entry.size <= reader.count - start else {
            throw reader.error(.truncated, "truncated file: zip entry \(entry.name) needs \(entry.size) bytes from byte \(start), "
                               + "the file has \(reader.count)")
        }
        return UnsafeRawBufferPointer(rebasing: reader.bytes[start..<(start + entry.size)])
    }
}

// MARK: - Pickle values

/// A mutable list shared by reference (the pickle memo aliases it).
final class PickleList { var items: [PickleValue] = [] }

/// A mutable dict shared by reference, keeping insertion order.
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = index[s] { values[i] = value; return }
            index[s] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    subscript(string key: String) -> PickleValue? { index[key].map { values[$0] } }

    func removeAll() { keys = []; values = []; index = [:] }
}

/// A storage reached through a persistent id.
struct StorageRef {
    let dtype: TorchDType
    let key: String
    /// Element offset of a legacy storage view into its root storage.
    let offset: Int
}

/// A tensor view of a storage (`_rebuild_tensor_v2` arguments).
struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let size: [Int]
    let stride: [Int]
}

/// The values the unpickler builds.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit in 64 bits: little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// `module.name` of a GLOBAL.
    case global(String)
    case storage(StorageRef)
    case tensor(TensorRef)
    /// An object of a class the reader does not construct (kept opaque, never executed).
    case object(String)

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .global(let g): return "the global \(g)"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        case .object(let name): return "a pickled \(name) object"
        }
    }
}

// MARK: - Unpickler

/// The globals a state dict may name, as PyTorch's `weights_only` unpickler allows: tensor and
/// parameter rebuilders, storages, dtypes, `torch.Size`/`torch.device` and `OrderedDict`. Any other
/// global (`posix.system`, `builtins.eval`, a model class) makes the whole file an error, wherever it sits.
enum PickleAllowList {
    static let exact: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size", "torch.device",
        "torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.storage._load_from_bytes",
        "torch.float32", "torch.float16", "torch.bfloat16", "torch.float64", "torch.int64", "torch.int32", "torch.int16",
        "torch.int8", "torch.uint8", "torch.bool", "builtins.set", "builtins.frozenset", "builtins.tuple", "builtins.list",
        "builtins.dict", "builtins.int", "builtins.float", "builtins.bool", "builtins.str", "builtins.bytes",
        "_codecs.encode",
    ]

    static func allows(_ global: String) -> Bool {
        if exact.contains(global) { return true }
        // torch.FloatStorage, torch.HalfStorage, torch.cuda.FloatStorage, …
        if global.hasPrefix("torch.") && global.hasSuffix("Storage") && !global.contains(" ") { return true }
        return false
    }
}

/// A pickle virtual machine for the opcodes `torch.save` emits (protocols 2–4).
struct Unpickler {
    let bytes: UnsafeRawBufferPointer
    let reader: ByteReader
    /// What is being unpickled, for errors (`archive/data.pkl`, `pickle`).
    let what: String
    private(set) var position = 0
    /// Storage key → dtype of every persistent id seen (legacy storages are laid out after the pickle).
    private(set) var storageTypes: [String: TorchDType] = [:]

    /// `global` when the allow-list admits it; otherwise an error naming it.
    private func allowedGlobal(_ global: String, _ at: Int) throws -> String {
        guard PickleAllowList.allows(global) else {
            throw fail("refuses the pickled global '\(global)' (only tensors, storages and plain containers are loaded, as PyTorch's weights_only)", at: at)
        }
        return global
    }

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every list and dict built: a pickle can make them contain each other (`l.append(l)`), a cycle
    /// that reference counting never frees, so `releaseContainers` empties them all when done.
    private var containers: [AnyObject] = []

    private mutating func newDict() -> PickleDict { let d = PickleDict(); containers.append(d); return d }
    private mutating func newList() -> PickleList { let l = PickleList(); containers.append(l); return l }

    /// Empties every list and dict this unpickler built (breaking reference cycles among them); call it
    /// once the values are no longer needed.
    mutating func releaseContainers() {
        for c in containers {
            if let l = c as? PickleList { l.items = [] } else if let d = c as? PickleDict { d.removeAll() }
        }
        containers = []
    }

    init(bytes: UnsafeRawBufferPointer, reader: ByteReader, what: String) {
        self.bytes = bytes
        self.reader = reader
        self.what = what
    }

    private func fail(_ message: String, at offset: Int) -> TorchPickleError {
        reader.error(.badFormat, "corrupt \(what): \(message) at byte \(offset)")
    }

    private mutating func take(_ n: Int, _ opcodeAt: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, position + n <= bytes.count else {
            throw reader.error(.truncated, "truncated file: \(what) ends inside the opcode at byte \(opcodeAt)")
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    private mutating func int<T: FixedWidthInteger>(_ type: T.Type, _ at: Int) throws -> T {
        T(littleEndian: try take(MemoryLayout<T>.size, at).loadUnaligned(as: T.self))
    }

    private mutating func line(_ at: Int) throws -> String {
        var end = position
        while end < bytes.count && bytes[end] != 0x0a { end += 1 }
        guard end < bytes.count else {
            throw reader.error(.truncated, "truncated file: \(what) ends inside the opcode at byte \(at)")
        }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
        position = end + 1
        return s
    }

    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard let v = stack.popLast(), (marks.last ?? -1) <= stack.count else { throw fail("stack underflow", at: at) }
        return v
    }

    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK for the opcode", at: at) }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func top(_ at: Int) throws -> PickleValue {
        guard let v = stack.last, (marks.last ?? -1) < stack.count else { throw fail("stack underflow", at: at) }
        return v
    }

    private mutating func memoize(_ key: Int, _ at: Int) throws {
        memo[key] = try top(at)
    }

    private mutating func recall(_ key: Int, _ at: Int) throws {
        guard let v = memo[key] else { throw fail("memo key \(key) is unset", at: at) }
        stack.append(v)
    }

    private func string(_ raw: UnsafeRawBufferPointer) -> PickleValue { .string(String(decoding: raw, as: UTF8.self)) }

    /// Integer from little-endian two's-complement bytes (LONG1/LONG4).
    private func long(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        guard raw.count <= 8 else { return .bigInt(Array(raw)) }
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        if raw.count < 8 && raw[raw.count - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(raw.count)) }
        return .int(Int(Int64(bitPattern: v)))
    }

    /// Runs one pickle to its STOP and returns the object (stack, marks and memo start empty).
    mutating func load() throws -> PickleValue {
        stack = []; marks = []; memo = [:]
        while true {
            let at = position
            guard position < bytes.count else {
                throw reader.error(.truncated, "truncated file: \(what) ends at byte \(position) before its STOP opcode")
            }
            let op = bytes[position]
            position += 1
            switch op {
            case 0x80: _ = try take(1, at)                                  // PROTO
            case 0x95: _ = try take(8, at)                                  // FRAME
            case 0x2e: return try pop(at)                                   // STOP
            case 0x28: marks.append(stack.count)                            // MARK
            case 0x30: _ = try pop(at)                                      // POP
            case 0x31: _ = try popMark(at)                                  // POP_MARK
            case 0x32: stack.append(try top(at))                            // DUP
            case 0x7d: stack.append(.dict(newDict()))                       // EMPTY_DICT
            case 0x5d: stack.append(.list(newList()))                       // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                             // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark(at)))                // TUPLE
            case 0x85, 0x86, 0x87:                                          // TUPLE1-3
                let n = Int(op - 0x84)
                var items: [PickleValue] = []
                for _ in 0..<n { items.insert(try pop(at), at: 0) }
                stack.append(.tuple(items))
            case 0x4e: stack.append(.none)                                  // NONE
            case 0x88: stack.append(.bool(true))                            // NEWTRUE
            case 0x89: stack.append(.bool(false))                           // NEWFALSE
            case 0x4a: stack.append(.int(Int(try int(Int32.self, at))))     // BININT
            case 0x4b: stack.append(.int(Int(try int(UInt8.self, at))))     // BININT1
            case 0x4d: stack.append(.int(Int(try int(UInt16.self, at))))    // BININT2
            case 0x8a: stack.append(long(try take(Int(try int(UInt8.self, at)), at)))           // LONG1
            case 0x8b: stack.append(long(try take(Int(try int(Int32.self, at)), at)))           // LONG4
            case 0x47:                                                      // BINFLOAT (big-endian)
                let raw = try take(8, at)
                stack.append(.float(Double(bitPattern: UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)))))
            case 0x58: stack.append(string(try take(Int(try int(UInt32.self, at)), at)))        // BINUNICODE
            case 0x8c: stack.append(string(try take(Int(try int(UInt8.self, at)), at)))         // SHORT_BINUNICODE
            case 0x8d: stack.append(string(try take(try count64(at), at)))                      // BINUNICODE8
            case 0x54: stack.append(string(try take(Int(try int(Int32.self, at)), at)))         // BINSTRING
            case 0x55: stack.append(string(try take(Int(try int(UInt8.self, at)), at)))         // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(Int(try int(UInt32.self, at)), at)))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(Int(try int(UInt8.self, at)), at))))  // SHORT_BINBYTES
            case 0x8e: stack.append(.bytes(Array(try take(try count64(at), at))))               // BINBYTES8
            case 0x71: try memoize(Int(try int(UInt8.self, at)), at)        // BINPUT
            case 0x72: try memoize(Int(try int(UInt32.self, at)), at)       // LONG_BINPUT
            case 0x94: try memoize(memo.count, at)                          // MEMOIZE
            case 0x68: try recall(Int(try int(UInt8.self, at)), at)         // BINGET
            case 0x6a: try recall(Int(try int(UInt32.self, at)), at)        // LONG_BINGET
            case 0x63:                                                      // GLOBAL
                let module = try line(at), name = try line(at)
                stack.append(.global(try allowedGlobal(module + "." + name, at)))
            case 0x93:                                                      // STACK_GLOBAL
                let name = try pop(at), module = try pop(at)
                guard case .string(let n) = name, case .string(let m) = module else {
                    throw fail("STACK_GLOBAL needs two strings", at: at)
                }
                stack.append(.global(try allowedGlobal(m + "." + n, at)))
            case 0x52:                                                      // REDUCE
                let args = try pop(at), callable = try pop(at)
                guard case .tuple(let items) = args else { throw fail("REDUCE arguments are not a tuple", at: at) }
                let result = try call(callable, items, at)
                if case .dict(let d) = result { containers.append(d) }
                stack.append(result)
            case 0x81:                                                      // NEWOBJ
                _ = try pop(at)
                let cls = try pop(at)
                if case .global("collections.OrderedDict") = cls { stack.append(.dict(newDict())) }
                else if case .global(let g) = cls { stack.append(.object(g)) }
                else { stack.append(.object("?")) }
            case 0x62:                                                      // BUILD
                // Object state (`__setstate__` / `__dict__`) is not needed: OrderedDict's `_metadata`,
                // attributes of opaque objects.
                _ = try pop(at)
                _ = try top(at)
            case 0x73:                                                      // SETITEM
                let value = try pop(at), key = try pop(at)
                guard case .dict(let d) = try top(at) else { throw fail("SETITEM on a non-dict", at: at) }
                d.set(key, value)
            case 0x75:                                                      // SETITEMS
                let items = try popMark(at)
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items", at: at) }
                guard case .dict(let d) = try top(at) else { throw fail("SETITEMS on a non-dict", at: at) }
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            case 0x61:                                                      // APPEND
                let value = try pop(at)
                guard case .list(let l) = try top(at) else { throw fail("APPEND on a non-list", at: at) }
                l.items.append(value)
            case 0x65:                                                      // APPENDS
                let items = try popMark(at)
                guard case .list(let l) = try top(at) else { throw fail("APPENDS on a non-list", at: at) }
                l.items += items
            case 0x51:                                                      // BINPERSID
                stack.append(try persistentLoad(try pop(at), at))
            default:
                throw reader.error(.unsupported, "\(what): unsupported pickle opcode 0x\(String(op, radix: 16)) at byte \(at)")
            }
        }
    }

    private mutating func count64(_ at: Int) throws -> Int {
        let n = try int(UInt64.self, at)
        guard n <= UInt64(bytes.count) else {
            throw reader.error(.truncated, "truncated file: \(what) ends inside the opcode at byte \(at)")
        }
        return Int(n)
    }

    /// `('storage', storage_type, key, location, numel[, view_metadata])`.
    private mutating func persistentLoad(_ pid: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .tuple(let items) = pid, items.count >= 5, case .string("storage") = items[0] else {
            throw fail("unsupported persistent id (expected a ('storage', …) tuple)", at: at)
        }
        guard case .global(let typeName) = items[1] else { throw fail("storage type is not a class", at: at) }
        guard let dtype = TorchDType(storageType: typeName) else {
            throw reader.error(.unsupported, "\(what): unsupported storage type \(typeName) at byte \(at)")
        }
        let key: String
        switch items[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw fail("storage key is not a string", at: at)
        }
        var offset = 0
        if items.count >= 6, case .tuple(let view) = items[5] {
            // Legacy storage view: (view_key, offset, size) into the root storage.
            guard view.count == 3, case .int(let o) = view[1], o >= 0 else { throw fail("bad storage view", at: at) }
            offset = o
        }
        if let seen = storageTypes[key], seen != dtype {
            throw fail("storage '\(key)' used as both \(seen.name) and \(dtype.name)", at: at)
        }
        storageTypes[key] = dtype
        return .storage(StorageRef(dtype: dtype, key: key, offset: offset))
    }

    /// REDUCE: builds the few callables a state dict needs; anything else becomes an opaque object.
    private func call(_ callable: PickleValue, _ args: [PickleValue], _ at: Int) throws -> PickleValue {
        guard case .global(let name) = callable else { return .object("?") }
        switch name {
        case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                  let size = ints(args[2]), let stride = ints(args[3]) else {
                throw fail("\(name) has unexpected arguments", at: at)
            }
            return .tensor(TensorRef(storage: storage, offset: offset, size: size, stride: stride))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first else { throw fail("\(name) without arguments", at: at) }
            return data
        case "torch._tensor._rebuild_from_type_v2":
            // (func, new_type, args, state): the tensor subclass is dropped, the inner rebuild kept.
            guard args.count >= 3, case .tuple(let inner) = args[2] else { throw fail("\(name) has unexpected arguments", at: at) }
            return try call(args[0], inner, at)
        default:
            return .object(name)
        }
    }

    private func ints(_ v: PickleValue) -> [Int]? {
        guard case .tuple(let items) = v else { return nil }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item else { return nil }
            out.append(i)
        }
        return out
    }
}
