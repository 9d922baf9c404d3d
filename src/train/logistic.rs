//! A small deterministic trainer for L2-regularised binary logistic regression on sparse
//! features: L-BFGS with a backtracking (Armijo) line search, sequential and in a fixed order,
//! so the same rows give bit-identical weights.
//!
//! ```text
//! minimise  Σ_i c_i · (ln(1 + e^{z_i}) - y_i z_i)  +  l2/2 · |w|²      z_i = b + x_i · w
//! ```
//!
//! (the bias `b` is not penalised).

/// Sparse rows: row `r` is `cols[start[r]..start[r + 1]]` with `vals[…]`.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    start: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
    width: usize,
}

impl Rows {
    /// No rows, `width` columns.
    pub fn new(width: usize) -> Rows {
        Rows {
            start: vec![0],
            cols: Vec::new(),
            vals: Vec::new(),
            width,
        }
    }

    /// Appends a row of `(column, value)`; columns at or past the width are ignored.
    pub fn push(&mut self, row: impl IntoIterator<Item = (u32, f64)>) {
        for (c, v) in row {
            if (c as usize) < self.width {
                self.cols.push(c);
                self.vals.push(v);
            }
        }
        self.start.push(self.cols.len());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    fn row(&self, r: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (a, b) = (self.start[r], self.start[r + 1]);
        self.cols[a..b]
            .iter()
            .zip(&self.vals[a..b])
            .map(|(c, v)| (*c as usize, *v))
    }

    /// `b + x_r · w`.
    pub fn dot(&self, r: usize, w: &[f64], b: f64) -> f64 {
        b + self.row(r).map(|(c, v)| w[c] * v).sum::<f64>()
    }
}

/// One training problem: which rows, their labels and weights.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// The feature rows.
    pub rows: &'a Rows,
    /// The rows taking part.
    pub subset: &'a [usize],
    /// Label per row of `rows` (indexed by row, not by position in `subset`).
    pub labels: &'a [bool],
    /// Loss weight of a positive row (negatives weigh 1).
    pub positive_weight: f64,
    /// L2 strength.
    pub l2: f64,
    /// Columns from this one on are not penalised (like the bias).
    pub free_from: usize,
}

/// A fitted scorer: weights per column and the bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// One weight per column.
    pub w: Vec<f64>,
    /// The intercept.
    pub b: f64,
}

fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The objective and its gradient at `theta = [w…, b]`.
fn objective(p: &Problem<'_>, theta: &[f64], grad: &mut [f64]) -> f64 {
    let width = p.rows.width();
    let (w, b) = (&theta[..width], theta[width]);
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut f = 0.0;
    for &r in p.subset {
        let z = p.rows.dot(r, w, b);
        let y = p.labels.get(r).copied().unwrap_or(false);
        let c = if y { p.positive_weight } else { 1.0 };
        f += c * (log1p_exp(z) - if y { z } else { 0.0 });
        let g = c * (sigmoid(z) - if y { 1.0 } else { 0.0 });
        for (col, v) in p.rows.row(r) {
            grad[col] += g * v;
        }
        grad[width] += g;
    }
    let penalised = p.free_from.min(width);
    for (gj, wj) in grad[..penalised].iter_mut().zip(w) {
        *gj += p.l2 * wj;
        f += 0.5 * p.l2 * wj * wj;
    }
    f
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fits the problem with at most `iterations` L-BFGS steps, starting from zero weights and the
/// bias of the base rate.
pub fn fit(p: &Problem<'_>, iterations: usize) -> Fitted {
    let n = p.rows.width() + 1;
    let mut x = vec![0.0; n];
    let positives = p
        .subset
        .iter()
        .filter(|r| p.labels.get(**r).copied().unwrap_or(false))
        .count();
    // Counts are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let (pos, neg) = (
        positives as f64 * p.positive_weight,
        (p.subset.len() - positives) as f64,
    );
    x[n - 1] = if pos > 0.0 && neg > 0.0 {
        (pos / neg).ln()
    } else {
        0.0
    };
    let mut g = vec![0.0; n];
    let mut fx = objective(p, &x, &mut g);
    const MEMORY: usize = 8;
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = Default::default();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    for _ in 0..iterations {
        let gnorm = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if gnorm < 1e-6 * fx.abs().max(1.0) {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &d);
            d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
            alphas.push(a);
        }
        let gamma = history
            .back()
            .map_or(1.0 / gnorm.max(1.0), |(s, y, _)| dot(s, y) / dot(y, y));
        d.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let beta = rho * dot(y, &d);
            d.iter_mut()
                .zip(s)
                .for_each(|(di, si)| *di += (a - beta) * si);
        }
        let mut gd = dot(&g, &d);
        if gd >= 0.0 {
            d = g.iter().map(|v| -v / gnorm.max(1.0)).collect();
            gd = dot(&g, &d);
            history.clear();
        }
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&d)
                .for_each(|((xn, xi), di)| *xn = xi + step * di);
            let f_new = objective(p, &x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * gd {
                fx = f_new;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
    }
    let b = x[n - 1];
    x.truncate(n - 1);
    Fitted { w: x, b }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Rows, Vec<bool>) {
        let mut rows = Rows::new(3);
        let mut labels = Vec::new();
        for i in 0..40 {
            let pos = i % 4 == 0;
            // Column 0 marks positives (with noise), column 1 is noise, column 2 marks negatives.
            let noise = f64::from(i % 3) / 3.0;
            rows.push([
                (0, if pos || i == 5 { 1.0 } else { 0.0 }),
                (1, noise),
                (2, if pos { 0.0 } else { 1.0 }),
            ]);
            labels.push(pos);
        }
        (rows, labels)
    }

    #[test]
    fn fitting_separates_the_classes_and_finds_the_optimum() {
        let (rows, labels) = toy();
        let subset: Vec<usize> = (0..rows.len()).collect();
        let p = Problem {
            rows: &rows,
            subset: &subset,
            labels: &labels,
            positive_weight: 1.0,
            l2: 0.1,
            free_from: usize::MAX,
        };
        let f = fit(&p, 200);
        assert!(f.w[0] > 1.0 && f.w[2] < -1.0, "{f:?}");
        for (r, y) in labels.iter().enumerate() {
            assert_eq!(rows.dot(r, &f.w, f.b) > 0.0, *y, "row {r}");
        }
        // At the optimum the gradient vanishes.
        let mut theta = f.w.clone();
        theta.push(f.b);
        let mut g = vec![0.0; theta.len()];
        objective(&p, &theta, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-3), "{g:?}");
    }

    #[test]
    fn the_same_problem_gives_bit_identical_weights() {
        let (rows, labels) = toy();
        let subset: Vec<usize> = (0..rows.len()).step_by(2).collect();
        let p = Problem {
            rows: &rows,
            subset: &subset,
            labels: &labels,
            positive_weight: 2.0,
            l2: 1.0,
            free_from: usize::MAX,
        };
        assert_eq!(fit(&p, 50), fit(&p, 50));
    }

    #[test]
    fn stronger_regularisation_gives_smaller_weights() {
        let (rows, labels) = toy();
        let subset: Vec<usize> = (0..rows.len()).collect();
        let fit_with = |l2| {
            let p = Problem {
                rows: &rows,
                subset: &subset,
                labels: &labels,
                positive_weight: 1.0,
                l2,
                free_from: usize::MAX,
            };
            fit(&p, 200).w.iter().map(|w| w * w).sum::<f64>()
        };
        assert!(fit_with(10.0) < fit_with(0.1));
    }
}
