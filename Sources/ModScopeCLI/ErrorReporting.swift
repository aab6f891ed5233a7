import ArgumentParser
import BatchRuntime
import Foundation
import ModScope

/// Maps errors to the exit codes of the command-line contract, printing one clear sentence to stderr:
/// 2 for bad input or usage, 1 for runtime failures. Every command body runs inside `reportingErrors`.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let (message, code) = ModScopeErrors.describe(error)
        StandardError.write("error: \(message)\n")
        throw ExitCode(code)
    }
}
