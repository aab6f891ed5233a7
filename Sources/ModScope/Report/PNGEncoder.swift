import CZlib
import Foundation

/// A minimal, correct PNG encoder (ISO/IEC 15948): 8-bit grayscale or RGB, each scanline with filter 0 (None),
/// one zlib-compressed IDAT, CRC-32 per chunk. Enough for heatmaps and small images embedded in the report.
public enum PNGEncoder {
    public enum ColorType: UInt8, Sendable {
        case grayscale = 0
        case rgb = 2

        var channels: Int { self == .grayscale ? 1 : 3 }
    }

    /// PNG bytes of a width × height image whose `pixels` are row-major with 1 (grayscale) or 3 (RGB) bytes each.
    public static func encode(width: Int, height: Int, pixels: [UInt8], colorType: ColorType) throws -> Data {
        precondition(width > 0 && height > 0, "an image needs at least one pixel")
        precondition(pixels.count == width * height * colorType.channels, "pixel buffer does not match the size")
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, colorType.rawValue, 0, 0, 0])  // depth, colour, compression, filter, interlace
        appendChunk("IHDR", header, to: &png)
        let stride = width * colorType.channels
        var raw = [UInt8]()
        raw.reserveCapacity(height * (stride + 1))
        for row in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(row * stride)..<((row + 1) * stride)])
        }
        appendChunk("IDAT", try deflate(raw), to: &png)
        appendChunk("IEND", Data(), to: &png)
        return png
    }

    static func deflate(_ bytes: [UInt8]) throws -> Data {
        var capacity = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = bytes.withUnsafeBufferPointer { source in
            compress2(&output, &capacity, source.baseAddress, uLong(bytes.count), Z_BEST_COMPRESSION)
        }
        guard status == Z_OK else { throw InputError("PNG compression failed (zlib status \(status))") }
        return Data(output.prefix(Int(capacity)))
    }

    static func appendChunk(_ type: String, _ body: Data, to png: inout Data) {
        png.appendBigEndian(UInt32(body.count))
        let typed = Data(type.utf8) + body
        png.append(typed)
        let crc = typed.withUnsafeBytes { raw in crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(typed.count)) }
        png.appendBigEndian(UInt32(crc))
    }

    /// A `data:` URI for embedding.
    public static func dataURI(_ png: Data) -> String { "data:image/png;base64," + png.base64EncodedString() }
}

extension Data {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
