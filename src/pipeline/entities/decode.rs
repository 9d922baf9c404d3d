//! Viterbi decoding over the BIO tags: which tag may follow which, the lane layout of the
//! weight vectors (`O` and the `B-` tags in one 4-wide half, the `I-` tags in the other), the
//! masked transition scores and the best allowed tag sequence.

use super::NTAGS;

/// Whether tag `cur` may follow tag `prev` (`prev == NTAGS`: the sentence start): `I-X`
/// only after `B-X` or `I-X`.
pub const fn allowed(prev: usize, cur: usize) -> bool {
    if cur == 0 || cur % 2 == 1 {
        return true;
    }
    prev < NTAGS && prev != 0 && prev.div_ceil(2) == cur / 2
}

/// Lanes of a weight vector: the [`NTAGS`] tags and padding (at zero in emissions, minus
/// infinity in transitions), so a vector is two SSE registers.
pub const LANES: usize = 8;

/// Weights or scores of the tags, by lane ([`LANE`]: `O`, the `B-` tags, the `I-` tags;
/// lanes `NTAGS..` are padding).
pub type Weights = [f32; LANES];

/// All-zero weights.
pub const ZERO: Weights = [0.0; LANES];

/// The lane of each tag (by tag index) in [`Weights`]: `O` and the three `B-` tags first
/// (the tags any tag may precede: one 4-wide vector in [`viterbi`]), then the three `I-`
/// tags (each only after its own `B-`/`I-`).
pub const LANE: [usize; NTAGS] = [0, 1, 4, 2, 5, 3, 6];

/// The tag in each lane (the inverse of [`LANE`]; the padding lane reads as `O`).
pub const TAG_OF_LANE: [u8; LANES] = [0, 1, 3, 5, 2, 4, 6, 0];

/// The first `I-` lane.
const INSIDE: usize = 4;

/// Tag-ordered weights (`w[t]`: tag `t`) as lanes ([`LANE`]).
pub fn to_lanes(w: &[f32]) -> Weights {
    let mut out = ZERO;
    for (x, lane) in w.iter().zip(LANE) {
        out[lane] = *x;
    }
    out
}

/// Lane-ordered weights back in tag order (`out[t]`: tag `t`; the padding lane stays last).
pub fn tag_order(w: &Weights) -> Weights {
    let mut out = *w;
    for (t, lane) in LANE.iter().enumerate() {
        out[t] = w[*lane];
    }
    out
}

/// Transition scores as [`viterbi`] takes them, by lane, with the transitions [`allowed`]
/// forbids (and the padding lanes) at minus infinity, so the inner loop has no branches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trans {
    /// From the sentence start to each lane.
    start: Weights,
    /// By previous lane (`0..NTAGS`), the scores of the next `O` / `B-` lanes (`0..4`).
    begin: [[f32; 4]; NTAGS],
    /// `B-X` -> `I-X`, by `I-` lane minus [`INSIDE`] (the last entry: padding).
    after_begin: [f32; 4],
    /// `I-X` -> `I-X`, the same way.
    after_inside: [f32; 4],
    /// By next lane, the scores from each previous lane (for the backward pass).
    column: [Weights; LANES],
}

impl Trans {
    /// The score of tag `next` after tag `prev` (`prev == NTAGS`: the sentence start), by
    /// tag index.
    pub fn get(&self, prev: usize, next: usize) -> f32 {
        let Some(&n) = LANE.get(next) else {
            return f32::NEG_INFINITY;
        };
        match LANE.get(prev) {
            Some(&p) => self.column[n][p],
            None => self.start[n],
        }
    }
}

/// `trans` (by tag index; row `p`, [`NTAGS`]: the sentence start, holds the scores of the
/// next tag) as [`Trans`].
pub fn masked(trans: &[[f32; NTAGS]; NTAGS + 1]) -> Trans {
    let at = |p: usize, t: usize| {
        if allowed(p, t) {
            trans[p][t]
        } else {
            f32::NEG_INFINITY
        }
    };
    let mut out = Trans {
        start: [f32::NEG_INFINITY; LANES],
        begin: [[f32::NEG_INFINITY; 4]; NTAGS],
        after_begin: [f32::NEG_INFINITY; 4],
        after_inside: [f32::NEG_INFINITY; 4],
        column: [[f32::NEG_INFINITY; LANES]; LANES],
    };
    for (t, &n) in LANE.iter().enumerate() {
        out.start[n] = at(NTAGS, t);
        for (p, &l) in LANE.iter().enumerate() {
            out.column[n][l] = at(p, t);
            if n < INSIDE {
                out.begin[l][n] = at(p, t);
            }
        }
        if n >= INSIDE {
            // I-X (tag t) follows B-X (tag t - 1) or itself.
            out.after_begin[n - INSIDE] = at(t - 1, t);
            out.after_inside[n - INSIDE] = at(t, t);
        }
    }
    out
}

/// The lane of the best score (ties to the lower tag index: the lanes are scanned in tag
/// order and the first maximum kept).
#[inline]
fn best_lane(s: &Weights) -> usize {
    let mut best = LANE[0];
    for &l in &LANE[1..] {
        if s[l] > s[best] {
            best = l;
        }
    }
    best
}

/// The best tag sequence for the emission scores `emit` (one row per character, by lane)
/// and the transition scores `trans` as [`masked`] gives them, so only sequences
/// [`allowed`] permits come out (ties go to the lower tag index). `scores` is a reusable
/// buffer; the tags (tag indices) are written to `out`.
///
/// The forward pass keeps only the best score of each lane at each position: for `O` and
/// the `B-` tags a lane-wise maximum over the seven previous tags (4-wide vectors), for each
/// `I-X` the better of `B-X` and `I-X` before it. The backward pass finds the previous tag
/// that gave it again from the same sums, one tag per position.
pub fn viterbi(emit: &[Weights], trans: &Trans, scores: &mut Vec<Weights>, out: &mut Vec<u8>) {
    out.clear();
    scores.clear();
    let Some(first) = emit.first() else {
        return;
    };
    let mut score = ZERO;
    for (s, (e, t)) in score.iter_mut().zip(first.iter().zip(&trans.start)) {
        *s = e + t;
    }
    scores.reserve(emit.len());
    scores.push(score);
    for row in emit.iter().skip(1) {
        let mut begin = [f32::NEG_INFINITY; 4];
        for (sp, tp) in score.iter().zip(&trans.begin) {
            for (b, t) in begin.iter_mut().zip(tp) {
                let s = sp + t;
                *b = if s > *b { s } else { *b };
            }
        }
        let mut next = ZERO;
        for k in 0..4 {
            let from_begin = score[1 + k] + trans.after_begin[k];
            let from_inside = score[INSIDE + k] + trans.after_inside[k];
            let inside = if from_inside > from_begin {
                from_inside
            } else {
                from_begin
            };
            next[k] = begin[k] + row[k];
            next[INSIDE + k] = inside + row[INSIDE + k];
        }
        score = next;
        scores.push(score);
    }
    let mut t = best_lane(&score);
    out.resize(emit.len(), 0);
    for i in (0..emit.len()).rev() {
        out[i] = TAG_OF_LANE[t & (LANES - 1)];
        let Some(prev) = i.checked_sub(1).and_then(|j| scores.get(j)) else {
            break;
        };
        t = if t >= INSIDE {
            // B-X (the lower tag index) wins a tie.
            let k = (t - INSIDE) & 3;
            let from_begin = prev[1 + k] + trans.after_begin[k];
            let from_inside = prev[INSIDE + k] + trans.after_inside[k];
            if from_inside > from_begin {
                INSIDE + k
            } else {
                1 + k
            }
        } else {
            let mut sums = trans.column[t & (LANES - 1)];
            for (s, x) in sums.iter_mut().zip(prev) {
                *s += *x;
            }
            best_lane(&sums)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_tags_only_follow_their_own_begin() {
        assert!(allowed(NTAGS, 0) && allowed(NTAGS, 1) && !allowed(NTAGS, 2));
        assert!(allowed(1, 2) && allowed(2, 2) && !allowed(3, 2) && !allowed(0, 2));
        assert!(allowed(5, 6) && !allowed(4, 6));
    }

    #[test]
    fn viterbi_finds_the_best_allowed_path() {
        let trans = masked(&[[0.0; NTAGS]; NTAGS + 1]);
        // Position 1 prefers I-LOC, but position 0 prefers B-PER: I-LOC cannot follow
        // B-PER, so the best allowed path decides between B-PER O and B-LOC I-LOC.
        let mut e0 = [0.0; NTAGS];
        e0[1] = 2.0;
        e0[3] = 1.5;
        let mut e1 = [0.0; NTAGS];
        e1[4] = 3.0;
        let (mut back, mut out) = (Vec::new(), Vec::new());
        viterbi(&[to_lanes(&e0), to_lanes(&e1)], &trans, &mut back, &mut out);
        assert_eq!(out, vec![3, 4]);
        viterbi(&[], &trans, &mut back, &mut out);
        assert!(out.is_empty());
    }

    /// The best allowed sequence by trying every one; of equal scores the one whose last
    /// tag is lowest, then the one before it (how the ties of [`viterbi`] go).
    fn brute_force(emit: &[[f32; NTAGS]], trans: &[[f32; NTAGS]; NTAGS + 1]) -> Vec<u8> {
        let n = emit.len();
        let mut best: Option<(f32, Vec<u8>)> = None;
        for code in 0..NTAGS.pow(n as u32) {
            let tags: Vec<usize> = (0..n)
                .rev()
                .map(|i| code / NTAGS.pow(i as u32) % NTAGS)
                .collect();
            let mut prev = NTAGS;
            let mut score = 0.0f32;
            let mut ok = true;
            for (e, &t) in emit.iter().zip(&tags) {
                ok &= allowed(prev, t);
                score += trans[prev][t] + e[t];
                prev = t;
            }
            let tags: Vec<u8> = tags.iter().map(|&t| t as u8).collect();
            let better = |(b, bt): &(f32, Vec<u8>)| {
                score > *b || (score == *b && tags.iter().rev().lt(bt.iter().rev()))
            };
            if ok && best.as_ref().is_none_or(better) {
                best = Some((score, tags));
            }
        }
        best.map(|(_, t)| t).unwrap_or_default()
    }

    #[test]
    fn viterbi_over_reordered_lanes_finds_what_trying_every_sequence_finds() {
        // A fixed pseudo-random sequence of small integers (sums exact in f32, so the brute
        // force and the lane-wise maxima agree to the bit; ties are frequent).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 9) as f32 - 4.0
        };
        for round in 0..200 {
            let mut trans = [[0.0; NTAGS]; NTAGS + 1];
            for row in trans.iter_mut() {
                for x in row.iter_mut() {
                    *x = next();
                }
            }
            let len = 1 + round % 4;
            let emit: Vec<[f32; NTAGS]> =
                (0..len).map(|_| std::array::from_fn(|_| next())).collect();
            let lanes: Vec<Weights> = emit.iter().map(|e| to_lanes(e)).collect();
            let (mut back, mut out) = (Vec::new(), Vec::new());
            viterbi(&lanes, &masked(&trans), &mut back, &mut out);
            assert_eq!(out, brute_force(&emit, &trans), "round {round}: {emit:?}");
        }
    }

    #[test]
    fn lanes_put_o_and_the_begin_tags_first_and_round_trip() {
        let w: [f32; NTAGS] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let lanes = to_lanes(&w);
        assert_eq!(lanes, [0.0, 1.0, 3.0, 5.0, 2.0, 4.0, 6.0, 0.0]);
        assert_eq!(tag_order(&lanes), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0]);
        for (lane, tag) in TAG_OF_LANE.iter().enumerate().take(NTAGS) {
            assert_eq!(LANE[usize::from(*tag)], lane);
        }
        let t = masked(&[[1.0; NTAGS]; NTAGS + 1]);
        assert_eq!(t.get(1, 2), 1.0, "B-PER -> I-PER");
        assert_eq!(t.get(3, 2), f32::NEG_INFINITY, "B-LOC -> I-PER");
        assert_eq!(t.get(NTAGS, 6), f32::NEG_INFINITY, "start -> I-ORG");
    }
}
