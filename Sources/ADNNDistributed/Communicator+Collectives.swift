import Foundation
import CMPI

/// Largest element count passed to one MPI call (MPI counts are `Int32`).
private let maxChunk = 1 << 28

extension Communicator {
    // MARK: - Allreduce in place

    /// Element-wise sum over all ranks, in place.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allreduce(buffer, adnn_mpi_float(), adnn_mpi_sum(), "MPI_Allreduce")
    }

    /// Element-wise mean over all ranks, in place.
    public func allreduceMean(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allreduceSum(buffer)
        guard size > 1 else { return }
        let s = 1 / Float(size)
        for i in buffer.indices { buffer[i] *= s }
    }

    /// Element-wise sum over all ranks, in place (metrics, center-update sums).
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allreduce(buffer, adnn_mpi_double(), adnn_mpi_sum(), "MPI_Allreduce")
    }

    /// Element-wise sum over all ranks, in place (sample and class counts).
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Int64>) throws {
        try allreduce(buffer, adnn_mpi_int64(), adnn_mpi_sum(), "MPI_Allreduce")
    }

    /// Element-wise maximum over all ranks, in place.
    public func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        try allreduce(buffer, adnn_mpi_double(), adnn_mpi_max(), "MPI_Allreduce")
    }

    /// Sums of `values` over all ranks.
    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return v
    }

    /// Sums of `values` over all ranks.
    public func allreduceSum(_ values: [Int64]) throws -> [Int64] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try allreduceSum($0) }
        return v
    }

    /// Sums of integer `values` (e.g. class counts) over all ranks.
    public func allreduceSum(_ values: [Int]) throws -> [Int] {
        try allreduceSum(values.map { Int64($0) }).map { Int($0) }
    }

    /// Maximum of `value` over all ranks.
    public func allreduceMax(_ value: Double) throws -> Double {
        var v = [value]
        try v.withUnsafeMutableBufferPointer { try allreduceMax($0) }
        return v[0]
    }

    /// True on every rank when `flag` is true on any rank (a non-finite loss, a stop request): lets all
    /// ranks leave the loop at the same step instead of one rank leaving and the others waiting.
    public func any(_ flag: Bool) throws -> Bool {
        try allreduceMax(flag ? 1 : 0) > 0
    }

    private func allreduce<T>(_ buffer: UnsafeMutableBufferPointer<T>, _ type: MPI_Datatype?, _ op: MPI_Op?,
                              _ name: String) throws {
        guard let comm, let base = buffer.baseAddress, buffer.count > 0 else { return }
        try timed(buffer.count * MemoryLayout<T>.stride) {
            var start = 0
            while start < buffer.count {
                let n = Swift.min(maxChunk, buffer.count - start)
                try check(MPI_Allreduce(adnn_mpi_in_place(), base + start, Int32(n), type, op, comm), name)
                start += n
            }
        }
    }

    // MARK: - Bucketed allreduce

    /// Sums many float buffers (e.g. every parameter's gradient) over all ranks, in place, through one
    /// staging bucket of `bucketElements` floats: buffers are packed back to back (a large buffer spans
    /// buckets), each full bucket is reduced with one `MPI_Allreduce`, then unpacked.
    ///
    /// Each element is multiplied by `weight` when packed and by `scale` when unpacked: the plain sum is
    /// `weight = scale = 1`, the mean `scale = 1/size`, and a sample-weighted mean of per-rank means
    /// `weight = localSamples / globalSamples` (exact for unequal shards). Without MPI only the two
    /// factors are applied (nothing when both are 1).
    public func allreduceSum(_ buffers: [UnsafeMutableBufferPointer<Float>], weight: Float = 1, scale: Float = 1) throws {
        guard let comm else {
            let f = weight * scale
            guard f != 1 else { return }
            for b in buffers { for i in b.indices { b[i] *= f } }
            return
        }
        let cap = bucketElements
        let stage = bucket
        var fill = 0
        var pending: [(destination: UnsafeMutablePointer<Float>, count: Int, offset: Int)] = []
        func flush() throws {
            try timed(fill * MemoryLayout<Float>.stride) {
                try check(MPI_Allreduce(adnn_mpi_in_place(), stage, Int32(fill), adnn_mpi_float(), adnn_mpi_sum(), comm),
                          "MPI_Allreduce")
            }
            for p in pending {
                let dst = p.destination, src = stage + p.offset
                if scale == 1 { dst.update(from: src, count: p.count) } else { for k in 0..<p.count { dst[k] = src[k] * scale } }
            }
            pending.removeAll(keepingCapacity: true)
            fill = 0
        }
        for b in buffers {
            guard let base = b.baseAddress else { continue }
            var start = 0
            while start < b.count {
                let n = Swift.min(b.count - start, cap - fill)
                let src = base + start, dst = stage + fill
                if weight == 1 { dst.update(from: src, count: n) } else { for k in 0..<n { dst[k] = src[k] * weight } }
                pending.append((src, n, fill))
                fill += n; start += n
                if fill == cap { try flush() }
            }
        }
        if fill > 0 { try flush() }
    }

    /// Mean of many float buffers over all ranks, in place (see `allreduceSum(_:weight:scale:)`).
    public func allreduceMean(_ buffers: [UnsafeMutableBufferPointer<Float>]) throws {
        try allreduceSum(buffers, scale: 1 / Float(size))
    }

    // MARK: - Broadcast and gather

    /// Copies `root`'s buffer to every rank.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        try broadcastRaw(UnsafeMutableRawBufferPointer(buffer), root: root)
    }

    /// Copies `root`'s buffers (e.g. every parameter at the start) to every rank, one `MPI_Bcast` each.
    public func broadcast(_ buffers: [UnsafeMutableBufferPointer<Float>], root: Int = 0) throws {
        guard comm != nil else { return }
        for b in buffers { try broadcast(b, root: root) }
    }

    /// `root`'s string on every rank (a run folder, a config text).
    public func broadcast(_ string: String, root: Int = 0) throws -> String {
        guard comm != nil else { return string }
        var length = [Int64(string.utf8.count)]
        try length.withUnsafeMutableBytes { try broadcastRaw($0, root: root) }
        var bytes = rank == root ? Array(string.utf8) : [UInt8](repeating: 0, count: Int(length[0]))
        try bytes.withUnsafeMutableBytes { try broadcastRaw($0, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func broadcastRaw(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard let comm, let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard (0..<size).contains(root) else { throw misuse("MPI_Bcast", "root \(root) is not a rank of \(size)") }
        var start = 0
        while start < bytes.count {
            let n = Swift.min(maxChunk, bytes.count - start)
            try check(MPI_Bcast(base + start, Int32(n), adnn_mpi_byte(), Int32(root), comm), "MPI_Bcast")
            start += n
        }
    }

    /// Every rank's string, in rank order.
    public func allgather(_ string: String) throws -> [String] {
        guard let comm else { return [string] }
        var mine = [Int64(string.utf8.count)]
        var lengths = [Int64](repeating: 0, count: size)
        try check(MPI_Allgather(&mine, 1, adnn_mpi_int64(), &lengths, 1, adnn_mpi_int64(), comm), "MPI_Allgather")
        let width = Int(lengths.max() ?? 0)
        guard width > 0 else { return Array(repeating: "", count: size) }
        var send = Array(string.utf8) + [UInt8](repeating: 0, count: width - string.utf8.count)
        var all = [UInt8](repeating: 0, count: width * size)
        try check(MPI_Allgather(&send, Int32(width), adnn_mpi_byte(), &all, Int32(width), adnn_mpi_byte(), comm),
                  "MPI_Allgather")
        return (0..<size).map { r in String(decoding: all[(r * width)..<(r * width + Int(lengths[r]))], as: UTF8.self) }
    }
}
