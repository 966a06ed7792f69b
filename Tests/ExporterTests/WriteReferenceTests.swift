import Foundation
import Testing

@testable import exporter

/// Issue #16, item 2: Shopify refuses a `referenceDocumentUri` that is not a valid URI, and real SKUs hold spaces,
/// `#`, `%`, `/` and umlauts. Taken raw, every write of such a SKU was refused and dead-lettered.
@Suite struct WriteReferenceTests {
    @Test(arguments: ["TEE BLUE M", "Größe-42", "50%OFF", "A/B", "X#1", "a?b=c&d", "BF-1a2b-17"])
    func aSingleSkuReferenceIsAValidURINamingTheSkuAndVersion(sku: String) throws {
        let reference = ShopWriter.reference(sku: sku, version: 42)
        let url = try #require(URL(string: reference), "not a URI: \(reference)")
        #expect(url.scheme == "gid" && url.host == "stockwire")
        #expect(url.query == nil && url.fragment == nil, "the SKU leaked into a query or fragment: \(reference)")
        let path = try #require(URLComponents(string: reference)?.percentEncodedPath)
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        #expect(parts.count == 4, "the SKU added path segments: \(reference)")
        let encoded = try #require(reference.split(separator: "/").dropLast().last)
        #expect(encoded.removingPercentEncoding == sku)
        #expect(reference.hasSuffix("/42"))
        #expect(reference.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 })
    }
}
