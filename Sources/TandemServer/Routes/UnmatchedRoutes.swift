import HTTPTypes
import Hummingbird

/// What a request that matches no route gets: 405 `method_not_allowed` with `Allow` when its path
/// is a route's but its method is not (`TRACE /health`), else 404 `not_found` — JSON refusals like
/// every other, instead of Hummingbird's bare 404.
///
/// Added to the router after every route, so it wraps only the router's not-found responder and
/// costs matched requests nothing.
struct UnmatchedRoutes: RouterMiddleware {
    typealias Context = TandemRequestContext

    /// One route's path as segments (`{name}` and `*` match one segment, `**` the rest) and methods.
    private struct Route {
        var segments: [Substring]
        var methods: [HTTPRequest.Method]
    }

    private let routes: [Route]

    init(_ descriptions: [Router<Context>.RouteDescription]) {
        var routes: [String: Route] = [:]
        for description in descriptions {
            let path = description.path.description
            routes[path, default: Route(segments: Self.segments(path), methods: [])].methods.append(description.method)
        }
        self.routes = Array(routes.values)
    }

    @concurrent
    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        let segments = Self.segments(request.uri.path)
        var allowed: [HTTPRequest.Method] = []
        for route in routes where Self.matches(route.segments, segments) {
            allowed += route.methods
        }
        guard !allowed.isEmpty else { return APIError.routeNotFound.response }
        var response = APIError.methodNotAllowed(request.method.rawValue).response
        response.headers[.allow] = Set(allowed.map(\.rawValue)).sorted().joined(separator: ", ")
        return response
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func matches(_ pattern: [Substring], _ path: [Substring]) -> Bool {
        var index = 0
        for part in pattern {
            if part == "**" { return true }
            guard index < path.count else { return false }
            if !(part == "*" || (part.first == "{" && part.last == "}") || part == path[index]) { return false }
            index += 1
        }
        return index == path.count
    }
}
