import Testing
@testable import ModScope

@Suite struct VersionTests {
    @Test func versionIsSemantic() {
        #expect(ModScopeVersion.string.split(separator: ".").count == 3)
    }
}
