import ArgumentParser
import Foundation
import ServiceKit
import Testing

@testable import ingest

@Suite struct ConfigurationTests {
    static func secretFile(_ content: String) throws -> String {
        let path = NSTemporaryDirectory() + "ingest-secret-\(UUID().uuidString)"
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsApplyWhenNothingIsSet() throws {
        let c = try IngestConfiguration(options: IngestOptions.parse([]), environment: [:])
        #expect(c.port == 8080)
        #expect(c.maxBodyBytes == 8 << 20)
        #expect(c.maxBodyBytesInFlight == 64 << 20)
        #expect(c.confirmTimeout == .seconds(3))
        #expect(c.shops.count == 0)
        #expect(c.movementToken == nil)
    }

    @Test func flagsWinOverEnvironmentAndSecretsComeFromFiles() throws {
        let acme = try Self.secretFile("acme-secret\n")
        let acmeOld = try Self.secretFile("acme-old")
        let beta = try Self.secretFile("beta-secret")
        let token = try Self.secretFile("s3cr3t-movement\n")
        let env = [
            "STOCKWIRE_INGEST_PORT": "9000", "STOCKWIRE_INGEST_MAX_BODY_BYTES": "2048",
            "STOCKWIRE_INGEST_CONFIRM_TIMEOUT_MS": "1500",
            "STOCKWIRE_SHOPS": "Acme.myshopify.com=\(acme), \(acmeOld) ; beta.myshopify.com=\(beta)",
            "STOCKWIRE_MOVEMENT_TOKEN_FILE": token,
        ]
        let c = try IngestConfiguration(options: IngestOptions.parse(["--port", "9100"]), environment: env)
        #expect(c.port == 9100)
        #expect(c.maxBodyBytes == 2048)
        #expect(c.confirmTimeout == .milliseconds(1500))
        #expect(c.shops.domains == ["acme.myshopify.com", "beta.myshopify.com"])
        #expect(c.shops.secrets(for: "ACME.myshopify.com") == [Array("acme-secret".utf8), Array("acme-old".utf8)])
        #expect(c.movementToken == Array("s3cr3t-movement".utf8))
        #expect(!c.shops.description.contains("acme-secret"))
        #expect(!"\(c.summary)".contains("s3cr3t"))
    }

    @Test func shopsFileIsCombinedWithTheEnvironment() throws {
        let a = try Self.secretFile("a")
        let b = try Self.secretFile("b")
        let file = try Self.secretFile("# shops\nb.myshopify.com=\(b)\n\n")
        let c = try IngestConfiguration(
            options: IngestOptions.parse(["--shops-file", file]), environment: ["STOCKWIRE_SHOPS": "a.myshopify.com=\(a)"])
        #expect(c.shops.domains == ["a.myshopify.com", "b.myshopify.com"])
    }

    @Test func configurationErrorsNameTheSettingAndNeverTheSecret() throws {
        let missing = "/nonexistent/acme-secret"
        do {
            _ = try IngestConfiguration(
                options: IngestOptions.parse([]), environment: ["STOCKWIRE_SHOPS": "acme.myshopify.com=\(missing)"])
            Issue.record("a missing secret file was accepted")
        } catch let error as ConfigurationError {
            #expect(error.message.contains(missing))
            #expect(error.message.contains("acme.myshopify.com"))
        }
        #expect(throws: ConfigurationError.self) {
            try IngestConfiguration(options: IngestOptions.parse([]), environment: ["STOCKWIRE_SHOPS": "no-equals-sign"])
        }
        #expect(throws: ConfigurationError.self) {
            try IngestConfiguration(options: IngestOptions.parse([]), environment: ["STOCKWIRE_INGEST_PORT": "http"])
        }
        #expect(throws: ConfigurationError.self) {
            try IngestConfiguration(options: IngestOptions.parse(["--confirm-timeout-ms", "0"]), environment: [:])
        }
    }

    @Test func eventLogRetentionComesFromTheEnvironmentAndIsChecked() throws {
        let defaults = try IngestConfiguration(options: IngestOptions.parse([]), environment: [:])
        #expect(defaults.eventLogMaxAge == "7D" && defaults.eventLogMaxBytes == 20_000_000_000)
        let set = try IngestConfiguration(
            options: IngestOptions.parse(["--event-log-max-bytes", "5000000"]),
            environment: ["STOCKWIRE_EVENT_LOG_MAX_AGE": "36h", "STOCKWIRE_EVENT_LOG_MAX_BYTES": "9000000"])
        #expect(set.eventLogMaxAge == "36h" && set.eventLogMaxBytes == 5_000_000, "the flag wins over the environment")
        for bad in ["7", "D", "-1D", "7 days", "7d"] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                try IngestConfiguration(options: IngestOptions.parse([]), environment: ["STOCKWIRE_EVENT_LOG_MAX_AGE": bad])
            }
        }
        #expect(throws: ConfigurationError.self) {
            try IngestConfiguration(options: IngestOptions.parse([]), environment: ["STOCKWIRE_EVENT_LOG_MAX_BYTES": "10"])
        }
    }

    @Test func bearerTokenParsing() {
        #expect(StockMovementController.bearerToken("Bearer abc") == "abc")
        #expect(StockMovementController.bearerToken("bearer   abc ") == "abc")
        #expect(StockMovementController.bearerToken("Basic abc") == nil)
        #expect(StockMovementController.bearerToken("Bearer ") == nil)
        #expect(StockMovementController.bearerToken(nil) == nil)
    }
}

/// A secret pasted where the path of its file belongs must not end up in the error (which is logged).
@Suite struct SecretFileErrorTests {
    @Test func aPastedSecretIsNotEchoedInTheError() {
        let pasted = "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"
        let error = #expect(throws: ConfigurationError.self) {
            _ = try Environment.secret(file: pasted, purpose: "STOCKWIRE_INGEST_WEBHOOK_SECRETS")
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(!text.contains(pasted), "\(text)")
        #expect(text.contains("does not look like a file's path"), "\(text)")
    }

    @Test func aRealPathIsNamedSoTheOperatorCanFixIt() {
        let path = "/run/secrets/shop-a.token-does-not-exist"
        let error = #expect(throws: ConfigurationError.self) {
            _ = try Environment.secret(file: path, purpose: "exporter token")
        }
        #expect(error.map { "\($0)" }?.contains(path) == true)
        #expect(Environment.shownPath("shop-a.token") == "shop-a.token")
    }
}
