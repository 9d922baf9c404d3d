//! `pagesift-dev eval-entities`: exact-span precision / recall / F1 per entity kind of the
//! entity tagger, fitted on one BIO file and tested on another (every ordered pair) and
//! k-fold cross-validated on all of them, next to the POS method it replaced
//! ([`pagesift::pipeline::nlp::Enricher::enrich_page_pos_entities`]) on the same sentences.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pagesift::eval::entities::{Evaluation, Scores, evaluate};
use pagesift::pipeline::Resources;
use pagesift::pipeline::entities::Kind;
use pagesift::pipeline::entities::bio::BioSentence;
use pagesift::pipeline::entities::train::train;
use pagesift::pipeline::entities::{Reference, Tagger};
use pagesift::pipeline::nlp::Enricher;
use pagesift::settings::Settings;

use crate::train_entities::{DEFAULT_DATA, ParamArgs, read_bio};

/// Arguments of `pagesift-dev eval-entities`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// BIO files, one per source (cross-source runs fit on one and test on each other).
    #[arg(long, value_name = "FILE", num_args = 1.., default_values_t = DEFAULT_DATA.map(String::from))]
    pub data: Vec<String>,
    /// Folds of the cross-validation over all files together (0: none). Sentence `i` of the
    /// joined files is in fold `i mod k`.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Skip the cross-source runs.
    #[arg(long)]
    pub no_cross: bool,
    /// Score this model file on the files instead of fitting (no cross-validation).
    #[arg(long, value_name = "FILE")]
    pub model: Option<std::path::PathBuf>,
    /// Print the entity lists of every article of this page file (through the whole
    /// pipeline as configured, with the POS method's lists beside them) and stop.
    #[arg(long, value_name = "FILE")]
    pub page: Option<std::path::PathBuf>,
    /// Score the exact spans with the slow reference emissions (one hash lookup per feature
    /// the templates emit) instead of the tagger's lookup records: for trying a feature
    /// template before the records cover it.
    #[arg(long)]
    pub reference: bool,
    /// Training parameters.
    #[command(flatten)]
    pub params: ParamArgs,
}

/// Prints the entity lists of a page's articles, tagger and POS method.
fn print_page(settings: &Settings, path: &Path) -> anyhow::Result<ExitCode> {
    let pipeline = pagesift::resources::build_pipeline(&settings.pipeline)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let articles = pipeline.segment(&text)?;
    let tokens = pagesift::pipeline::tokens::ArticleTokens::page(pipeline.jieba(), &articles);
    let pos = pipeline
        .enricher()
        .enrich_page_pos_entities(pipeline.jieba(), &articles, &tokens);
    println!("{} ({})", path.display(), pipeline.entities_version());
    for ((article, tokens), pos) in articles.iter().zip(&tokens).zip(&pos) {
        let found = pipeline.tagger().article_entities(tokens);
        println!(
            "\n#{} {}",
            article.index,
            article.title.as_deref().unwrap_or("(no title)")
        );
        println!("  people:        {}", found.people.join(" "));
        println!("  places:        {}", found.places.join(" "));
        println!("  organisations: {}", found.organizations.join(" "));
        println!("  (POS) people:  {}", pos.people.join(" "));
        println!("  (POS) places:  {}", pos.places.join(" "));
        println!("  (POS) orgs:    {}", pos.organizations.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn row(name: &str, s: &Scores) -> String {
    let mut out = format!("| {name} |");
    for kind in Kind::ALL {
        let c = s.of(kind);
        out.push_str(&format!(
            " {:.3} / {:.3} / {:.3} |",
            c.precision(),
            c.recall(),
            c.f1()
        ));
    }
    let all = s.all();
    out.push_str(&format!(
        " {:.3} / {:.3} / **{:.3}** |",
        all.precision(),
        all.recall(),
        all.f1()
    ));
    out
}

fn print(title: &str, e: &Evaluation) {
    println!("\n### {title} ({} test sentences)\n", e.sentences);
    println!(
        "| method | people P / R / F1 | places P / R / F1 | organisations P / R / F1 | all P / R / F1 |"
    );
    println!("|---|---|---|---|---|");
    println!("{}", row("tagger, exact spans", &e.tagger_spans));
    println!("{}", row("tagger, event strings", &e.tagger_strings));
    println!(
        "{}",
        row("POS method (old), event strings", &e.baseline_strings)
    );
}

/// The reference scorer of a model file, when asked for.
fn reference_of(wanted: bool, model: &str) -> anyhow::Result<Option<Reference>> {
    Ok(wanted.then(|| Reference::from_model(model)).transpose()?)
}

/// Runs the command.
pub fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(page) = &args.page {
        return print_page(settings, page);
    }
    let jieba = pagesift::resources::jieba(&settings.pipeline)?;
    let idf = pagesift::resources::read_configured(
        &settings.pipeline.idf,
        settings.pipeline.config_dir(),
    )?;
    let baseline = Enricher::new(&Resources {
        idf,
        keywords_top_k: settings.pipeline.keywords_top_k,
        ..Resources::default()
    })?;
    let mut sources: Vec<(String, Vec<BioSentence>)> = Vec::new();
    for path in &args.data {
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
        sources.push((name, read_bio(Path::new(path))?));
    }
    let params = args.params.params();
    let classes = args.params.classes()?;
    println!(
        "eval-entities: epochs {}, min count {}, dropout {}, seed {:#x}; files: {}",
        params.epochs,
        params.min_count,
        params.dropout,
        params.seed,
        sources
            .iter()
            .map(|(n, s)| format!("{n} ({} sentences)", s.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(path) = &args.model {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let tagger = Tagger::from_model(&text)?;
        let reference = reference_of(args.reference, &text)?;
        for (name, data) in &sources {
            let test: Vec<&BioSentence> = data.iter().collect();
            let e = evaluate(&jieba, &tagger, reference.as_ref(), &baseline, &test);
            print(&format!("{} on {name}", tagger.version()), &e);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.no_cross {
        for (i, (train_name, train_data)) in sources.iter().enumerate() {
            let fit: Vec<&BioSentence> = train_data.iter().collect();
            let fitted = train(&jieba, &fit, &params, &classes);
            let reference = reference_of(args.reference, &fitted.model)?;
            for (j, (test_name, test_data)) in sources.iter().enumerate() {
                if i == j {
                    continue;
                }
                let test: Vec<&BioSentence> = test_data.iter().collect();
                let e = evaluate(&jieba, &fitted.tagger, reference.as_ref(), &baseline, &test);
                print(&format!("fit on {train_name}, test on {test_name}"), &e);
            }
        }
    }
    if args.folds >= 2 {
        let all: Vec<&BioSentence> = sources.iter().flat_map(|(_, d)| d).collect();
        let mut total = Evaluation::default();
        for fold in 0..args.folds {
            let fit: Vec<&BioSentence> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| i % args.folds != fold)
                .map(|(_, s)| *s)
                .collect();
            let test: Vec<&BioSentence> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| i % args.folds == fold)
                .map(|(_, s)| *s)
                .collect();
            let fitted = train(&jieba, &fit, &params, &classes);
            let reference = reference_of(args.reference, &fitted.model)?;
            total.merge(&evaluate(
                &jieba,
                &fitted.tagger,
                reference.as_ref(),
                &baseline,
                &test,
            ));
        }
        print(
            &format!("{}-fold cross-validation on all files", args.folds),
            &total,
        );
    }
    Ok(ExitCode::SUCCESS)
}
