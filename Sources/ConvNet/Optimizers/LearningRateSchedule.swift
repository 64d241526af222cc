import Foundation

/// The learning rate as a function of training progress, with PyTorch's formulas
/// (`torch.optim.lr_scheduler`). The rate of a step is a pure function of the base rate and how
/// far training is, so a resumed run recomputes it exactly and nothing but the configuration
/// needs saving.
///
/// t counts epochs completed (unit `.epoch`: the rate changes between epochs, as PyTorch's
/// scheduler stepped once per epoch) or optimizer steps taken (unit `.iteration`); T is the
/// total of that unit in the run.
///
/// | kind | rate at t | PyTorch |
/// | --- | --- | --- |
/// | `constant` | base | — |
/// | `step(every: s, gamma: γ)` | base·γ^⌊t/s⌋ | `StepLR(step_size=s, gamma=γ)` |
/// | `multistep(milestones: m, gamma: γ)` | base·γ^(number of mᵢ ≤ t) | `MultiStepLR(milestones=m, gamma=γ)` |
/// | `exponential(gamma: γ)` | base·γ^t (the classic `--lr-decay`) | `ExponentialLR(gamma=γ)` |
/// | `cosine(minimum: η)` | η + (base − η)(1 + cos(π·t/T))/2 | `CosineAnnealingLR(T_max=T, eta_min=η)` |
/// | `oneCycle(…)` | from base/div up to base over pct·T, then down to base/(div·finalDiv), cosine | `OneCycleLR(max_lr=base, total_steps=T, pct_start, div_factor, final_div_factor, anneal_strategy='cos')` |
///
/// A linear warm-up (`warmup` > 0, in the same unit) multiplies the rate by a factor that goes
/// from `warmupStartFactor` at t = 0 to 1 at t = warmup (`LinearLR(start_factor,
/// total_iters=warmup)`'s factor).
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// The shape of the schedule.
    public enum Kind: Codable, Sendable, Equatable {
        case constant
        case step(every: Int, gamma: Double)
        case multistep(milestones: [Int], gamma: Double)
        case exponential(gamma: Double)
        case cosine(minimum: Double)
        case oneCycle(pctStart: Double, divFactor: Double, finalDivFactor: Double)
    }

    /// Whether t counts epochs or optimizer steps.
    public enum Unit: String, Codable, Sendable, CaseIterable {
        case epoch
        case iteration
    }

    public var kind: Kind
    public var unit: Unit
    /// Warm-up length in `unit`s (0: none).
    public var warmup: Int
    /// The warm-up's first factor, in (0, 1].
    public var warmupStartFactor: Double

    public init(_ kind: Kind = .constant, unit: Unit = .epoch, warmup: Int = 0, warmupStartFactor: Double = 0.1) {
        self.kind = kind
        self.unit = unit
        self.warmup = warmup
        self.warmupStartFactor = warmupStartFactor
    }

    /// The classic `--lr-decay`: multiply by `decay` after every epoch.
    public static func perEpochDecay(_ decay: Double) -> LearningRateSchedule {
        decay == 1 ? LearningRateSchedule() : LearningRateSchedule(.exponential(gamma: decay))
    }

    /// Throws on settings no run could use.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw ConvNetError.invalidArgument("learning-rate schedule: \(message)") }
        }
        try require(warmup >= 0, "warm-up must be ≥ 0, found \(warmup)")
        try require(
            warmupStartFactor > 0 && warmupStartFactor <= 1 && warmupStartFactor.isFinite,
            "the warm-up start factor must be in (0, 1], found \(warmupStartFactor)")
        switch kind {
        case .constant: break
        case .step(let every, let gamma):
            try require(every > 0, "step size must be > 0, found \(every)")
            try require(gamma > 0 && gamma <= 1, "gamma must be in (0, 1], found \(gamma)")
        case .multistep(let milestones, let gamma):
            try require(
                !milestones.isEmpty && milestones.allSatisfy { $0 > 0 },
                "milestones must be positive, found \(milestones)")
            try require(milestones == milestones.sorted(), "milestones must increase, found \(milestones)")
            try require(gamma > 0 && gamma <= 1, "gamma must be in (0, 1], found \(gamma)")
        case .exponential(let gamma):
            try require(gamma > 0 && gamma <= 1, "gamma must be in (0, 1], found \(gamma)")
        case .cosine(let minimum):
            try require(minimum >= 0 && minimum.isFinite, "the minimum rate must be ≥ 0, found \(minimum)")
        case .oneCycle(let pct, let div, let finalDiv):
            try require(pct > 0 && pct < 1, "pct_start must be in (0, 1), found \(pct)")
            try require(div >= 1 && div.isFinite, "div_factor must be ≥ 1, found \(div)")
            try require(finalDiv >= 1 && finalDiv.isFinite, "final_div_factor must be ≥ 1, found \(finalDiv)")
        }
    }

    /// The rate for the step about to be taken, `iteration` steps (0-based) into a run that is
    /// in epoch `epoch` (0-based) of `epochs`, with `iterationsPerEpoch` steps an epoch.
    public func rate(base: Double, iteration: Int, epoch: Int, epochs: Int, iterationsPerEpoch: Int) -> Double {
        let t = unit == .epoch ? epoch : iteration
        let total = max(1, unit == .epoch ? epochs : epochs * iterationsPerEpoch)
        var rate: Double
        switch kind {
        case .constant:
            rate = base
        case .step(let every, let gamma):
            rate = base * pow(gamma, Double(t / every))
        case .multistep(let milestones, let gamma):
            rate = base * pow(gamma, Double(milestones.filter { $0 <= t }.count))
        case .exponential(let gamma):
            rate = base * pow(gamma, Double(t))
        case .cosine(let minimum):
            rate = minimum + (base - minimum) * (1 + cos(Double.pi * Double(min(t, total)) / Double(total))) / 2
        case .oneCycle(let pct, let div, let finalDiv):
            // PyTorch's OneCycleLR (three_phase=False): phase ends at pct·T − 1 and T − 1.
            let initial = base / div
            let final = initial / finalDiv
            let peak = Double(pct * Double(total)) - 1
            let end = Double(total - 1)
            let step = Double(min(t, total - 1))
            func annealed(_ start: Double, _ stop: Double, _ fraction: Double) -> Double {
                stop + (start - stop) / 2 * (1 + cos(Double.pi * fraction))
            }
            if step <= peak {
                rate = annealed(initial, base, peak > 0 ? step / peak : 1)
            } else {
                rate = annealed(base, final, end > peak ? (step - peak) / (end - peak) : 1)
            }
        }
        if warmup > 0, t < warmup {
            rate *= warmupStartFactor + (1 - warmupStartFactor) * Double(t) / Double(warmup)
        }
        return rate
    }

    /// One line for reports: `cosine (min 0.0) per iteration, warm-up 500 from 0.1`.
    public var summary: String {
        let shape: String
        switch kind {
        case .constant: shape = "constant"
        case .step(let every, let gamma): shape = "step (every \(every), gamma \(gamma))"
        case .multistep(let milestones, let gamma):
            shape = "multistep (\(milestones.map(String.init).joined(separator: ",")), gamma \(gamma))"
        case .exponential(let gamma): shape = "exponential (gamma \(gamma))"
        case .cosine(let minimum): shape = "cosine (min \(minimum))"
        case .oneCycle(let pct, let div, let finalDiv):
            shape = "one-cycle (pct_start \(pct), div \(div), final div \(finalDiv))"
        }
        return "\(shape) per \(unit.rawValue)" + (warmup > 0 ? ", warm-up \(warmup) from \(warmupStartFactor)" : "")
    }

    /// A schedule by name, as the command line gives it: `constant`, `step`, `multistep`,
    /// `exponential`, `cosine`, `onecycle`, with their settings (nil: PyTorch's defaults where
    /// it has them; `step` needs `stepSize`, `multistep` `milestones`). One-cycle counts
    /// iterations unless `unit` says otherwise; the others epochs.
    public init(
        named name: String, unit: Unit? = nil, stepSize: Int? = nil, gamma: Double? = nil, milestones: [Int]? = nil,
        minimum: Double? = nil, warmup: Int? = nil, warmupStartFactor: Double? = nil, pctStart: Double? = nil,
        divFactor: Double? = nil, finalDivFactor: Double? = nil
    ) throws {
        let kind: Kind
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "constant", "none": kind = .constant
        case "step":
            guard let stepSize else {
                throw ConvNetError.invalidArgument("the step schedule needs a step size (--step-size)")
            }
            kind = .step(every: stepSize, gamma: gamma ?? 0.1)
        case "multistep", "multi-step":
            guard let milestones else {
                throw ConvNetError.invalidArgument("the multistep schedule needs milestones (--milestones)")
            }
            kind = .multistep(milestones: milestones, gamma: gamma ?? 0.1)
        case "exponential":
            guard let gamma else {
                throw ConvNetError.invalidArgument("the exponential schedule needs a gamma (--gamma)")
            }
            kind = .exponential(gamma: gamma)
        case "cosine": kind = .cosine(minimum: minimum ?? 0)
        case "onecycle", "one-cycle":
            kind = .oneCycle(
                pctStart: pctStart ?? 0.3, divFactor: divFactor ?? 25, finalDivFactor: finalDivFactor ?? 1e4)
        default:
            throw ConvNetError.invalidArgument(
                "unknown learning-rate schedule '\(name)'; use constant, step, multistep, exponential, cosine or onecycle"
            )
        }
        let isOneCycle: Bool
        if case .oneCycle = kind { isOneCycle = true } else { isOneCycle = false }
        self.init(
            kind, unit: unit ?? (isOneCycle ? .iteration : .epoch), warmup: warmup ?? 0,
            warmupStartFactor: warmupStartFactor ?? 0.1)
        try validate()
    }
}
