/// Strings a peer supplies (a worker's host name, a FAIL message) made safe for logs, status files and
/// terminals before they are stored: a line of printable text, bounded in length.
///
/// Invariant: the result contains no control character (C0, DEL, C1), no Unicode format character (bidi
/// overrides, zero-width joiners) and no line or paragraph separator; each of those, and the backslash, is
/// written as a `\u{XX}` (backslash: `\\`) escape, so an escaped string cannot start a new log line, move the
/// cursor or recolour a terminal, and the original can be read back unambiguously.
public enum PeerText {
    /// Unicode scalars kept from a peer string (longer ones end in "…"): a host name is at most 253.
    public static let maxScalars = 256

    public static func escaped(_ text: String, limit: Int = maxScalars) -> String {
        var out = ""
        var kept = 0
        for scalar in text.unicodeScalars {
            if kept == limit {
                out += "…"
                break
            }
            kept += 1
            if scalar == "\\" {
                out += "\\\\"
            } else if needsEscape(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }
}
