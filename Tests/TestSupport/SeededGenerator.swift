import ShopifySimulator

/// A small seeded generator (SplitMix64, the one the simulator and the scenario use), so that a randomized test is
/// reproducible: a failure names its seed.
public typealias SeededGenerator = SplitMix64
