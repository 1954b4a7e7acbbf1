import CMPI

/// A failed MPI call, as one line: the call, the rank, and Open MPI's own error text.
///
/// The communicator runs with `MPI_ERRORS_RETURN`, so MPI errors come back as this error instead of
/// aborting the process inside the MPI library.
public struct MPIError: Error, CustomStringConvertible, Equatable {
    /// The MPI function that failed, e.g. `MPI_Allreduce`.
    public let operation: String
    /// The MPI error code (`MPI_ERR_...`).
    public let code: Int32
    /// `MPI_Error_string` of the code, or a description of a misuse detected before calling MPI.
    public let message: String
    /// Rank and world size of the process that saw the error.
    public let rank: Int, size: Int

    public init(operation: String, code: Int32, message: String, rank: Int, size: Int) {
        self.operation = operation; self.code = code; self.message = message; self.rank = rank; self.size = size
    }

    /// The error of return code `code` of `operation`, with MPI's text for it.
    public init(operation: String, code: Int32, rank: Int, size: Int) {
        self.init(operation: operation, code: code, message: MPIError.text(for: code), rank: rank, size: size)
    }

    public var description: String {
        "MPI error in \(operation) on rank \(rank) of \(size): \(message)\(code != 0 ? " (code \(code))" : "")"
    }

    /// The text MPI gives for an error code (`MPI_Error_string` aborts before `MPI_Init` in Open MPI,
    /// so without an initialised MPI the code is only named).
    static func text(for code: Int32) -> String {
        var initialized: Int32 = 0, finalized: Int32 = 0
        _ = MPI_Initialized(&initialized); _ = MPI_Finalized(&finalized)
        guard initialized != 0 && finalized == 0 else { return "MPI error code \(code)" }
        var buffer = [CChar](repeating: 0, count: Int(adnn_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == adnn_mpi_success() else { return "unknown MPI error" }
        let bytes = buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
