import HTTPTypes
import TandemFleetReading
import TandemProjections
import TandemRuns

/// The one place where the modules' errors become refusals (status, stable `code`, sentence):
/// routes hand what they caught to ``APIError/init(_:)-(any Error)`` and build no mapping of their own.
extension APIError {
    /// The refusal for a run the coordinator did not admit or follow.
    init(_ error: RunError) {
        switch error.code.kind {
        case .conflict: self = .conflict
        case .overloaded: self = .overloaded
        case .shuttingDown: self = .shuttingDown
        case .journalUnavailable: self = .journalUnavailable(error.message)
        // Secrets are loaded before the server listens; should one ever fail later, the run was
        // not recorded, which is what this refusal says.
        case .secretUnusable: self = .journalUnavailable(error.message)
        }
    }

    /// The refusal for a read of another node's run while the fleet store cannot be read.
    init(_ error: FleetUnreadable) {
        self.init(
            status: .serviceUnavailable, code: error.code,
            message: "The run is not on this node and the fleet store cannot be read (\(error.message)).", retryAfterSeconds: 5
        )
    }

    /// The refusal for whatever a route caught: a refusal as it is, module errors by their
    /// meaning (any projection-store failure is `projection_lagging`); anything else failed while
    /// reading or writing the journal.
    init(_ error: any Error) {
        switch error {
        case let refusal as APIError:
            self = refusal
        case let error as RunError:
            self.init(error)
        case let error as ProjectionError:
            // Lagging or failing, the records cannot be brought up to the journal (SPEC: never a
            // stale record presented as current).
            self = .projectionLagging(error.message)
        default:
            self = .journalUnavailable("\(error)")
        }
    }
}
