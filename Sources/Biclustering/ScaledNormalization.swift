/// Dhillon's scaled normalisation An = D₁^(−1/2) F D₂^(−1/2) (Dhillon 2001, §4; sklearn `_scale_normalize`),
/// held implicitly, with the trivial singular pair deflated analytically.
///
/// With rowsum ρ and colsum γ of F and total τ: An·(√γ/√τ) = √ρ/√τ, so u₁ = √ρ/√τ, v₁ = √γ/√τ, σ₁ = 1 is an
/// exact singular triple and the largest one (An's entries are ≥ 0 and its Perron value is 1). The operator
/// returned is An − u₁v₁ᵀ, whose singular values are σ₂ ≥ σ₃ ≥ … of An. Rows or columns with zero sum get scale 0
/// (instead of sklearn's inf, #8809) and are reported in `emptyRows`/`emptyCols`; they receive label −1.
struct ScaledNormalization: Sendable {
    let op: ImplicitOperator
    /// ρ^(−1/2) (0 for empty rows), the row factor of the Dhillon embedding Z = [r ⊙ U; c ⊙ V].
    let rowFactor: [Double]
    let colFactor: [Double]
    let emptyRows: [Bool]
    let emptyCols: [Bool]

    init(matrix: Submatrix, rowSums: [Double], colSums: [Double]) {
        let total = rowSums.reduce(0, +)
        rowFactor = rowSums.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
        colFactor = colSums.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
        emptyRows = rowSums.map { !($0 > 0) }
        emptyCols = colSums.map { !($0 > 0) }
        let invRootTotal = total > 0 ? 1 / total.squareRoot() : 0
        let u1 = rowSums.map { Swift.max($0, 0).squareRoot() * invRootTotal }
        let v1 = colSums.map { Swift.max($0, 0).squareRoot() * invRootTotal }
        op = ImplicitOperator(
            matrix: matrix, rowScale: rowFactor.map(Float.init), colScale: colFactor.map(Float.init),
            logShift: nil, lowRank: [(left: u1.map { -$0 }, right: v1)])
    }
}
