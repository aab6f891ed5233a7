import Testing

@Suite struct VersionCommandTests {
    @Test func versionFlagPrintsTheVersion() throws {
        let result = try ModScopeBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.standardOutput.contains("0.1.0"))
    }
}
