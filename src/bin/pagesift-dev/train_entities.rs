//! `pagesift-dev train-entities`: fits the entity tagger (see
//! [`pagesift::pipeline::entities::train`]) from BIO files and writes the model file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pagesift::pipeline::entities::bio::{self, BioSentence};
use pagesift::pipeline::entities::features::WordClasses;
use pagesift::pipeline::entities::train::{Params, train};
use pagesift::pipeline::entities::{self as ent, Tagger};
use pagesift::settings::Settings;

use crate::data::write_output;

/// The training files of `shared/ner/` (README there): People's Daily 1998 dev, MSRA val.
pub const DEFAULT_DATA: [&str; 2] = ["../shared/ner/pd1998-dev.bio", "../shared/ner/msra-val.bio"];

/// The training parameters, shared with `eval-entities`.
#[derive(Debug, Clone, clap::Args)]
pub struct ParamArgs {
    /// Passes of the perceptron over the data.
    #[arg(long, default_value_t = Params::default().epochs)]
    pub epochs: usize,
    /// Features firing in fewer training sentences than this are dropped.
    #[arg(long, default_value_t = Params::default().min_count)]
    pub min_count: u32,
    /// Seed of the per-epoch shuffle.
    #[arg(long, default_value_t = Params::default().seed)]
    pub seed: u64,
    /// Decimal places of the weights in the model file.
    #[arg(long, default_value_t = Params::default().decimals)]
    pub decimals: usize,
    /// Averaged weights smaller than this (absolute) are dropped.
    #[arg(long, default_value_t = Params::default().prune)]
    pub prune: f64,
    /// Share of positions whose dictionary features (POS tag, gazetteer class of the jieba
    /// word) are hidden in a training step.
    #[arg(long, default_value_t = Params::default().dropout)]
    pub dropout: f64,
    /// Word classes (`build-clusters` output) whose features the model gets; the model file
    /// carries them.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "tests/fixtures/entity-clusters.tsv"
    )]
    pub clusters: PathBuf,
    /// Fit without word classes (the model of before them, for comparison).
    #[arg(long)]
    pub no_clusters: bool,
}

impl ParamArgs {
    /// The parameters.
    pub fn params(&self) -> Params {
        Params {
            epochs: self.epochs,
            min_count: self.min_count,
            seed: self.seed,
            decimals: self.decimals,
            prune: self.prune,
            dropout: self.dropout,
        }
    }

    /// The word classes to fit with (none with `--no-clusters`).
    pub fn classes(&self) -> anyhow::Result<WordClasses> {
        if self.no_clusters {
            return Ok(WordClasses::default());
        }
        let path = &self.clusters;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        WordClasses::parse(&text)
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("parsing {}", path.display()))
    }
}

/// Arguments of `pagesift-dev train-entities`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// BIO files to fit on (`character<TAB>tag` lines, blank lines between sentences).
    #[arg(long, value_name = "FILE", num_args = 1.., default_values_t = DEFAULT_DATA.map(String::from))]
    pub data: Vec<String>,
    /// Training parameters.
    #[command(flatten)]
    pub params: ParamArgs,
    /// Where to write the model (`-` for stdout; relative to the current directory).
    #[arg(long, value_name = "FILE", default_value = "config/entities.model")]
    pub out: PathBuf,
}

/// Reads and parses a BIO file.
pub fn read_bio(path: &Path) -> anyhow::Result<Vec<BioSentence>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    bio::parse(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let mut data = Vec::new();
    for path in &args.data {
        data.extend(read_bio(Path::new(path))?);
    }
    let refs: Vec<&BioSentence> = data.iter().collect();
    let fitted = train(
        &jieba,
        &refs,
        &args.params.params(),
        &args.params.classes()?,
    );
    Tagger::from_model(&fitted.model).context("the fitted model does not load")?;
    write_output(&args.out, &fitted.model)?;
    let entities: usize = data.iter().map(|s| ent::spans(&s.tags).len()).sum();
    eprintln!(
        "pagesift-dev: trained {} on {} sentences ({} entities): {} features kept, {} weight rows, {} bytes -> {}",
        fitted.tagger.version(),
        data.len(),
        entities,
        fitted.features,
        fitted.tagger.len(),
        fitted.model.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
