/// ModScope's version, written into run.json and shown by `modscope --version`.
public enum ModScopeVersion {
    public static let string = "0.1.0"
}
