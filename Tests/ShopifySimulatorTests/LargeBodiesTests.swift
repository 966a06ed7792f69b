import Foundation
import ShopifySimulator
import Testing

/// The sizes ingest must accept (issue #16, item 6): printed, and held to the ranges its defaults are set from.
@Suite struct LargeBodiesTests {
    @Test func theLargestProductAndOrderBodiesAreAFewMegabytes() throws {
        let product = LargeWebhookBodies.productUpdate(variants: 2_048)
        let order = LargeWebhookBodies.orderCreate(lines: 500)
        print("products/update, 2,048 variants: \(product.count) bytes; orders/create, 500 lines: \(order.count) bytes")
        // Real JSON, with every variant and line.
        let p = try #require(try JSONSerialization.jsonObject(with: Data(product)) as? [String: Any])
        #expect((p["variants"] as? [Any])?.count == 2_048)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(order)) as? [String: Any])
        #expect((o["line_items"] as? [Any])?.count == 500)
        #expect(product.count > 1 << 20, "over ingest's old 1 MiB limit")
        #expect(product.count < 8 << 20 && order.count < 8 << 20, "within the 8 MiB default")
    }
}
