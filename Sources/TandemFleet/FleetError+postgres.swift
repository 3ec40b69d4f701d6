import PostgresNIO

extension FleetError {
    /// `error` as a fleet store failure: a ``FleetError`` as it is; PostgreSQL's refusal of the
    /// credentials (SQLSTATE 28P01, 28000) as ``FleetError/authenticationFailed(underlying:)``;
    /// any other with the server's message for the operator (kept from HTTP clients) and the
    /// error itself (its SQLSTATE) kept.
    static func from(_ error: any Error) -> FleetError {
        if let error = error as? FleetError { return error }
        guard let error = error as? PSQLError else { return .database("\(error)", underlying: error) }
        if let state = error.serverInfo?[.sqlState], state == "28P01" || state == "28000" {
            return .authenticationFailed(underlying: error)
        }
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " [SQLSTATE \($0)]" } ?? ""
            return .database(message + (error.serverInfo?[.detail].map { " (\($0))" } ?? "") + state, underlying: error)
        }
        return .database(error.underlying.map { "\(error.code): \($0)" } ?? "\(error.code)", underlying: error)
    }
}
