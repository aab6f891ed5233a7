import Foundation
import Testing

@testable import ArrayFiles

@Suite struct SampleTableTests {
    @Test func opensEachFormatByExtension() throws {
        let npy = try openSampleTable(path: Fixtures.path("f4_v1.npy"), key: nil)
        #expect(npy.rowCount == 3 && npy.rowShape == [4] && npy.elementsPerSample == 4)
        #expect(try npy.floatRows(0..<1) == [-1, -0.5, 0, 0.5])
        let npz = try openSampleTable(path: Fixtures.path("data.npz"), key: "x")
        #expect(try npz.floatRows(0..<3) == Fixtures.f4Values)
        let single = try openSampleTable(path: Fixtures.path("single.npz"), key: nil)
        #expect(try single.floatRows(0..<3) == Fixtures.f4Values)
        let csv = try openSampleTable(path: Fixtures.path("noheader.csv"), key: nil)
        #expect(csv.rowCount == 2 && csv.rowShape == [3])
        #expect(try csv.floatRows(0..<1) == [1, 2.5, -3])
    }

    @Test func npzWithSeveralArraysNeedsAKey() {
        let message = arrayFileErrorMessage { _ = try openSampleTable(path: Fixtures.path("data.npz"), key: nil) }
        #expect(message.contains("data.npz holds several arrays ('x', 'y'); choose one with --data-key"))
    }

    @Test func keyWithNonArchiveAndUnknownFormatsAreErrors() {
        let key = arrayFileErrorMessage { _ = try openSampleTable(path: Fixtures.path("f4_v1.npy"), key: "x") }
        #expect(key.contains("--data-key x only applies to .npz archives"))
        #expect(key.contains("f4_v1.npy"))
        let format = arrayFileErrorMessage { _ = try openSampleTable(path: Fixtures.path("unknown.txt"), key: nil) }
        #expect(format.contains("unknown.txt has an unsupported format"))
        #expect(format.contains(".npy, .npz (choose the array with --data-key) and .csv"))
    }

    @Test func readsLabelsFromNpyAndCsv() throws {
        #expect(try readLabels(path: Fixtures.path("i8_labels.npy")) == [0, 1, 2, 1, 0, 2])
        #expect(try readLabels(path: Fixtures.path("labels_f4.npy")) == [2, 0, 1])
        #expect(try readLabels(path: Fixtures.path("labels.csv")) == [2, 0, 1])
    }

    @Test func labelsMustBeOneColumn() {
        let npy = arrayFileErrorMessage { _ = try readLabels(path: Fixtures.path("labels_2d.npy")) }
        #expect(npy.contains("labels_2d.npy has shape (2, 2)"))
        #expect(npy.contains("y.reshape(-1)"))
        let csv = arrayFileErrorMessage { _ = try readLabels(path: Fixtures.path("noheader.csv")) }
        #expect(csv.contains("noheader.csv has 3 columns"))
        let fraction = arrayFileErrorMessage { _ = try readLabels(path: Fixtures.path("labels_fraction.npy")) }
        #expect(fraction.contains("not an integer"))
    }

    @Test func firstNonFiniteFindsTheFirstNaNOrInfinity() {
        #expect(firstNonFinite(in: []) == nil)
        #expect(firstNonFinite(in: [1, -2, .greatestFiniteMagnitude, -.leastNonzeroMagnitude]) == nil)
        var values = [Float](repeating: 1, count: 1000)
        values[700] = -.infinity
        values[900] = .nan
        #expect(firstNonFinite(in: values) == 700)
        values[3] = .signalingNaN
        #expect(firstNonFinite(in: values) == 3)
        #expect(firstNonFinite(in: [Float](repeating: 0, count: 256) + [.infinity]) == 256)
    }

    @Test func pathExtensionIsCaseInsensitiveAndIgnoresFolders() {
        #expect(pathExtension("/a.b/c.NPY") == "npy")
        #expect(pathExtension("/a.b/c") == "")
        #expect(pathExtension(".hidden") == "")
    }
}
