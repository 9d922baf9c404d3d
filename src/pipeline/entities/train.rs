//! Fits the tagger: an averaged structured perceptron (Collins 2002) over the features of
//! [`super::features`], decoded by the same constrained Viterbi as the tagger.
//!
//! ```text
//! BIO sentences -> jieba.tag(text, false) (the tokens the pipeline makes) -> features
//!   -> keep features that fire in at least `min_count` sentences (none is fitted to a
//!      single sentence)
//!   -> `epochs` passes in a seeded shuffled order: decode (the dictionary features of the
//!      jieba word hidden at a `dropout` share of positions); where it differs from the gold
//!      tags, +1 to the gold features/transitions, -1 to the predicted ones
//!   -> the average of the weights over every step (lazy sums), rounded to `decimals`
//!      places; weights below `prune` dropped -> model file (sorted: byte-identical output
//!      for the same data and parameters)
//! ```

use jieba_rs::Jieba;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::bio::BioSentence;
use super::features::{Sentence, Sink, Template, WordClasses};
use super::{NTAGS, Tagger, ZERO, masked, to_lanes, viterbi};

/// Training parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Passes over the data.
    pub epochs: usize,
    /// A feature is kept when it fires in at least this many training sentences (so no
    /// feature is fitted to a single sentence).
    pub min_count: u32,
    /// Seed of the shuffle of the sentence order in each epoch.
    pub seed: u64,
    /// Decimal places of the weights in the model file.
    pub decimals: usize,
    /// Weights smaller than this (absolute value, after averaging) are dropped.
    pub prune: f64,
    /// Share of the positions at which the dictionary features of the jieba word (POS tag,
    /// gazetteer class) are hidden in a training step, so the model does not lean on the
    /// dictionary's tags alone (they are per word, not per mention: `nr` on words that are
    /// no names in most sentences). 0 hides none.
    pub dropout: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            epochs: 30,
            min_count: 2,
            seed: 0x5eed_2026,
            decimals: 2,
            prune: 0.5,
            dropout: 0.2,
        }
    }
}

/// A sentence ready for training: the feature ids of each position and the gold tags.
struct Example {
    /// Feature ids, all positions one after the other.
    features: Vec<u32>,
    /// `offsets[i]..offsets[i + 1]` are the features of position `i`.
    offsets: Vec<u32>,
    gold: Vec<u8>,
}

impl Example {
    fn at(&self, i: usize) -> &[u32] {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        self.features.get(a..b).unwrap_or_default()
    }
}

/// Gives features ids in order of first sight, counting the sentences each fires in.
#[derive(Default)]
struct Index {
    ids: FxHashMap<u64, u32>,
    names: Vec<(Template, String)>,
    /// Sentences each feature fires in.
    counts: Vec<u32>,
    /// The last sentence each feature was counted for (1-based; 0: none).
    last: Vec<u32>,
    /// The current sentence (1-based).
    sentence: u32,
    out: Vec<u32>,
}

impl Sink for Index {
    const VALUES: bool = true;

    fn feature(&mut self, hash: u64, template: Template, value: &[char]) {
        let next = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(hash).or_insert_with(|| {
            self.names.push((template, value.iter().collect()));
            self.counts.push(0);
            self.last.push(0);
            next
        });
        if let (Some(c), Some(last)) = (
            self.counts.get_mut(id as usize),
            self.last.get_mut(id as usize),
        ) && *last != self.sentence
        {
            *c += 1;
            *last = self.sentence;
        }
        self.out.push(id);
    }
}

/// A small deterministic generator (xorshift64*) for the shuffles.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// A fitted model: the file and the tagger it loads as.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The model file's text.
    pub model: String,
    /// The tagger.
    pub tagger: Tagger,
    /// Features kept after the count cut-off (before pruning small weights).
    pub features: usize,
}

/// Fits a tagger to `sentences`, tokenised by `jieba` as the pipeline tokenises, with the
/// word classes `classes` (empty: no class features); the model file carries the classes.
pub fn train(
    jieba: &Jieba,
    sentences: &[&BioSentence],
    params: &Params,
    classes: &WordClasses,
) -> Fitted {
    // Features of every position, ids in order of first sight.
    let mut index = Index::default();
    let mut examples = Vec::with_capacity(sentences.len());
    let mut sentence = Sentence::default();
    for s in sentences {
        let tags = jieba.tag(&s.text, false);
        sentence.prepare_with(&s.text, &tags, classes);
        if sentence.len() != s.tags.len() {
            continue;
        }
        index.out.clear();
        index.sentence += 1;
        let mut offsets = vec![0u32];
        for i in 0..sentence.len() {
            sentence.features(i, &mut index);
            offsets.push(u32::try_from(index.out.len()).unwrap_or(u32::MAX));
        }
        examples.push(Example {
            features: index.out.clone(),
            offsets,
            gold: s.tags.clone(),
        });
    }
    // The count cut-off: rare features are dropped (renumbered densely).
    let keep: Vec<Option<u32>> = {
        let mut next = 0u32;
        index
            .counts
            .iter()
            .map(|&c| {
                (c >= params.min_count).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect()
    };
    let kept = keep.iter().flatten().count();
    // Which kept features are dictionary features of the jieba word (subject to dropout).
    let mut dictionary = vec![false; kept];
    for (old, new) in keep.iter().enumerate() {
        if let (Some(new), Some((template, _))) = (new, index.names.get(old)) {
            dictionary[*new as usize] = matches!(
                template,
                Template::WordPosTag
                    | Template::WordPosLenTag
                    | Template::Gazetteer
                    | Template::PrevWordTag
                    | Template::NextWordTag
            );
        }
    }
    let threshold = (params.dropout.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
    for e in &mut examples {
        let mut features = Vec::with_capacity(e.features.len());
        let mut offsets = vec![0u32];
        for i in 0..e.gold.len() {
            features.extend(e.at(i).iter().filter_map(|&f| keep[f as usize]));
            offsets.push(u32::try_from(features.len()).unwrap_or(u32::MAX));
        }
        e.features = features;
        e.offsets = offsets;
    }

    let mut w = vec![[0.0f64; NTAGS]; kept];
    let mut u = vec![[0.0f64; NTAGS]; kept];
    let mut tw = [[0.0f64; NTAGS]; NTAGS + 1];
    let mut tu = [[0.0f64; NTAGS]; NTAGS + 1];
    let mut step = 1.0f64;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Rng(params.seed | 1);
    let (mut emit, mut back, mut pred) = (Vec::new(), Vec::new(), Vec::new());
    // The features of one step: dictionary features hidden at the dropped positions.
    let mut active: Vec<Vec<u32>> = Vec::new();
    for _ in 0..params.epochs {
        rng.shuffle(&mut order);
        for &k in &order {
            let e = &examples[k];
            emit.clear();
            active.resize_with(e.gold.len(), Vec::new);
            for (i, feats) in active.iter_mut().enumerate().take(e.gold.len()) {
                let drop = threshold > 0 && rng.next() < threshold;
                feats.clear();
                feats.extend(
                    e.at(i)
                        .iter()
                        .copied()
                        .filter(|&f| !(drop && dictionary[f as usize])),
                );
                let mut acc = ZERO;
                for &f in feats.iter() {
                    for (a, x) in acc.iter_mut().zip(&w[f as usize]) {
                        *a += *x as f32;
                    }
                }
                emit.push(to_lanes(&acc[..NTAGS]));
            }
            let trans = masked(&tw.map(|row| row.map(|x| x as f32)));
            viterbi(&emit, &trans, &mut back, &mut pred);
            if pred != e.gold {
                for i in 0..e.gold.len() {
                    let (g, p) = (usize::from(e.gold[i]), usize::from(pred[i]));
                    if g != p {
                        for &f in &active[i] {
                            let f = f as usize;
                            w[f][g] += 1.0;
                            u[f][g] += step;
                            w[f][p] -= 1.0;
                            u[f][p] -= step;
                        }
                    }
                    let gp = i.checked_sub(1).map_or(NTAGS, |j| usize::from(e.gold[j]));
                    let pp = i.checked_sub(1).map_or(NTAGS, |j| usize::from(pred[j]));
                    if (gp, g) != (pp, p) {
                        tw[gp][g] += 1.0;
                        tu[gp][g] += step;
                        tw[pp][p] -= 1.0;
                        tu[pp][p] -= step;
                    }
                }
            }
            step += 1.0;
        }
    }

    // Averaged weights, rounded and pruned.
    let scale = 10f64.powi(i32::try_from(params.decimals).unwrap_or(2));
    let round = |wv: &[f64; NTAGS], uv: &[f64; NTAGS]| {
        let mut out = [0.0f32; NTAGS];
        for t in 0..NTAGS {
            let avg = wv[t] - uv[t] / step;
            if avg.abs() >= params.prune {
                out[t] = ((avg * scale).round() / scale) as f32;
            }
        }
        out
    };
    let mut rows: Vec<(Template, String, [f32; NTAGS])> = Vec::new();
    for (old, new) in keep.iter().enumerate() {
        if let (Some(new), Some((template, value))) = (new, index.names.get(old)) {
            let r = round(&w[*new as usize], &u[*new as usize]);
            if r.iter().any(|x| *x != 0.0) {
                rows.push((*template, value.clone(), r));
            }
        }
    }
    for p in 0..=NTAGS {
        let name = super::transition_value(p).to_owned();
        rows.push((Template::Transition, name, round(&tw[p], &tu[p])));
    }
    // The version names the weights: a digest of the file without its version line.
    let body = Tagger::write_model("", &mut rows, params.decimals, classes);
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let version = format!("entities-ap-{hex}");
    let model = Tagger::write_model(&version, &mut rows, params.decimals, classes);
    let tagger = Tagger::from_weights(
        version,
        rows.iter().map(|(t, v, w)| (*t, v.as_str(), *w)),
        classes,
    );
    Fitted {
        model,
        tagger,
        features: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::entities::bio;

    /// Self-written sentences (no corpus text): a few people and places in fixed frames.
    fn toy() -> Vec<BioSentence> {
        let mut text = String::new();
        let frames = [("", "说，", "的情况很好。"), ("昨天", "来到", "考察。")];
        let names = ["甲乙丙", "丁戊", "己庚辛"];
        let places = ["子丑县", "寅卯市", "辰巳省"];
        for (a, b, c) in frames {
            for n in names {
                for p in places {
                    for (part, tag) in [(a, "O"), (n, "PER"), (b, "O"), (p, "LOC"), (c, "O")] {
                        for (k, ch) in part.chars().enumerate() {
                            let t = match (tag, k) {
                                ("O", _) => "O".to_owned(),
                                (t, 0) => format!("B-{t}"),
                                (t, _) => format!("I-{t}"),
                            };
                            text.push_str(&format!("{ch}\t{t}\n"));
                        }
                    }
                    text.push('\n');
                }
            }
        }
        bio::parse(&text).expect("toy data parses")
    }

    /// Word classes for some of the toy data's words (self-made).
    fn toy_classes() -> WordClasses {
        WordClasses::parse("昨天\t1\t2\n来到\t3\t3\n考察\t4\t0\n情况\t4\t5\n说\t6\t7\n甲\t8\t9\n")
            .expect("parses")
    }

    #[test]
    fn training_twice_gives_byte_identical_models_that_fit_the_data() {
        check_training(&WordClasses::default());
    }

    #[test]
    fn a_model_with_word_classes_carries_them_and_its_records_equal_the_reference() {
        let a = check_training(&toy_classes());
        assert!(a.model.contains("\nclass\t来到\t3 3\n"), "{}", a.model);
        assert!(a.model.contains("\nKW\t"), "{}", a.model);
    }

    fn check_training(classes: &WordClasses) -> Fitted {
        let jieba = Jieba::new();
        let data = toy();
        let refs: Vec<&BioSentence> = data.iter().collect();
        let params = Params {
            epochs: 5,
            ..Params::default()
        };
        let a = train(&jieba, &refs, &params, classes);
        let b = train(&jieba, &refs, &params, classes);
        assert_eq!(a.model, b.model);
        assert!(a.tagger.version().starts_with("entities-ap-"));
        // The file loads back as the same tagger.
        let loaded = Tagger::from_model(&a.model).expect("the model parses");
        assert_eq!(loaded.version(), a.tagger.version());
        assert_eq!(loaded.len(), a.tagger.len());
        // It learned the training data, and its lookup records score every position as the
        // sum of the weights of the features training saw there.
        let reference = super::super::Reference::from_model(&a.model).expect("parses");
        for s in &data {
            let tags = jieba.tag(&s.text, false);
            assert_eq!(loaded.tag(&s.text, &tags), s.spans(), "{}", s.text);
            let fast = loaded.emissions(&s.text, &tags);
            let slow = reference.emissions(&s.text, &tags);
            assert_eq!(fast.len(), slow.len());
            for (f, r) in fast.iter().zip(&slow) {
                for t in 0..NTAGS {
                    assert!((f[t] - r[t]).abs() < 1e-4, "{}: {f:?} vs {r:?}", s.text);
                }
            }
        }
        // Another seed is another order, still deterministic.
        let c = train(&jieba, &refs, &Params { seed: 7, ..params }, classes);
        assert_eq!(
            c.model,
            train(&jieba, &refs, &Params { seed: 7, ..params }, classes).model
        );
        a
    }
}
