import Foundation
import Testing

@testable import ArrayFiles

@Suite struct CSVReaderTests {
    @Test func readsRowsWithoutHeaderAndIgnoresTrailingBlankLine() throws {
        let reader = try CSVReader(path: Fixtures.path("noheader.csv"))
        #expect(reader.columnNames == nil)
        #expect(reader.rowCount == 2)
        #expect(reader.columnCount == 3)
        #expect(reader.rowShape == [3])
        #expect(try reader.floatRows(0..<2) == [1, 2.5, -3, 4, 0.5, 6])
        #expect(try reader.floatRows(1..<2) == [4, 0.5, 6])
    }

    @Test func detectsHeaderAndHandlesQuotesSpacesAndCRLF() throws {
        let reader = try CSVReader(path: Fixtures.path("header.csv"))
        #expect(reader.columnNames == ["a", "b", "c"])
        #expect(reader.rowCount == 2)
        let first = try reader.floatRows(0..<1)
        #expect(first == [0.25, 1, 2])
        let second = try reader.floatRows(1..<2)
        #expect(second[0] == -1 && second[1].isNaN && second[2] == 1000)
    }

    @Test func raggedRowNamesFileAndLines() {
        let message = arrayFileErrorMessage { _ = try CSVReader(path: Fixtures.path("ragged.csv")) }
        #expect(message.contains("ragged.csv line 3 has 3 fields but line 1 has 2"))
        #expect(message.contains("same number of comma-separated values"))
    }

    @Test func nonNumericCellNamesLineAndColumn() {
        let message = arrayFileErrorMessage { _ = try CSVReader(path: Fixtures.path("badcell.csv")) }
        #expect(message.contains("badcell.csv line 2, column 2: 'abc' is not a number"))
    }

    @Test func blankLineBetweenRowsIsAnError() {
        let message = arrayFileErrorMessage { _ = try CSVReader(path: Fixtures.path("blank_middle.csv")) }
        #expect(message.contains("blank_middle.csv line 2 is empty but more rows follow"))
    }

    @Test func emptyCellAndHeaderOnlyFilesAreErrors() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let emptyCell = folder + "/emptycell.csv"
        try "1,2\n3,\n".write(toFile: emptyCell, atomically: true, encoding: .utf8)
        let cell = arrayFileErrorMessage { _ = try CSVReader(path: emptyCell) }
        #expect(cell.contains("emptycell.csv line 2, column 2: an empty cell is not a number"))
        let headerOnly = folder + "/headeronly.csv"
        try "a,b\n".write(toFile: headerOnly, atomically: true, encoding: .utf8)
        let rows = arrayFileErrorMessage { _ = try CSVReader(path: headerOnly) }
        #expect(rows.contains("headeronly.csv has no data rows"))
    }

    @Test func lastLineWithoutNewlineAndByteOrderMark() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let path = folder + "/bom.csv"
        try Data([0xEF, 0xBB, 0xBF] + Array("7,8\n9,10".utf8)).write(to: URL(fileURLWithPath: path))
        let reader = try CSVReader(path: path)
        #expect(reader.rowCount == 2)
        #expect(try reader.floatRows(0..<2) == [7, 8, 9, 10])
    }

    @Test func rowsOutOfRangeAreAnError() throws {
        let reader = try CSVReader(path: Fixtures.path("noheader.csv"))
        let message = arrayFileErrorMessage { _ = try reader.floatRows(0..<3) }
        #expect(message.contains("noheader.csv has 2 rows"))
    }
}
