//! The files pagesift needs — its configuration and its model files — and where each one comes
//! from: every file of `config/` is compiled into the binary ([`EMBEDDED`]), so the binary runs
//! from any directory with no files at all; a file of the same name in the configuration
//! directory (`--config-dir`, `$PAGESIFT_CONFIG_DIR` or `./config`), or a path the configuration
//! names, is read from disk instead. This module also reads the model files named by the
//! configuration into [`Resources`] and builds a [`Pipeline`] from them: the IO the pure
//! pipeline leaves to its callers.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::pipeline::{Limits, Pipeline, ResourceError, Resources};
use crate::settings::PipelineSettings;

/// A file of `config/` compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFile {
    /// Its name in `config/` (and in a configuration directory that overrides it).
    pub name: &'static str,
    /// Its text, as it was when the binary was built.
    pub text: &'static str,
}

/// `embedded!["a.toml", "b.txt"]`: the table entries of those files of `config/`.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(EmbeddedFile {
            name: $name,
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/", $name)),
        }),*]
    };
}

/// Every file of `config/`, compiled in. Adding a file to `config/` is adding its name here (a
/// test fails while a file of `config/` is missing from this table).
pub const EMBEDDED: &[EmbeddedFile] = embedded![
    "default.toml",
    "production.toml",
    "userdict.txt",
    "idf.txt",
    "lexicon.json",
    "classifier.json",
    "entities.model",
    "segmenter.json",
];

/// The compiled-in text of the file `name` of `config/`, if there is one.
pub fn embedded(name: &str) -> Option<&'static EmbeddedFile> {
    EMBEDDED.iter().find(|f| f.name == name)
}

/// Where the text of a file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled into the binary.
    Embedded(&'static EmbeddedFile),
    /// Read from this file.
    Disk(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Embedded(file) => write!(f, "embedded {}", file.name),
            Source::Disk(path) => write!(f, "read from {}", path.display()),
        }
    }
}

/// Errors finding, reading or parsing the model files.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configured file is neither on disk nor compiled in.
    #[error(
        "model file {path} not found (looked in the configuration directory {config_dir}, \
         among the embedded files and in the current directory)"
    )]
    NotFound {
        /// The path as configured.
        path: PathBuf,
        /// The configuration directory searched first.
        config_dir: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file was read but does not parse.
    #[error(transparent)]
    Resource(#[from] ResourceError),
}

/// Finds the file a configured path names. An absolute path is that file. A relative one is
/// looked up in the configuration directory, then among the embedded files (by name), then in
/// the current directory — so `classifier.json` is `config/classifier.json` in a checkout and
/// the compiled-in model anywhere else, and `tests/fixtures/x.json` still works from the root.
pub fn locate(path: &Path, config_dir: &Path) -> Result<Source, LoadError> {
    let not_found = || LoadError::NotFound {
        path: path.to_path_buf(),
        config_dir: config_dir.to_path_buf(),
    };
    if path.is_absolute() {
        return if path.is_file() {
            Ok(Source::Disk(path.to_path_buf()))
        } else {
            Err(not_found())
        };
    }
    let in_dir = config_dir.join(path);
    if in_dir.is_file() {
        return Ok(Source::Disk(in_dir));
    }
    if let Some(file) = path.to_str().and_then(embedded) {
        return Ok(Source::Embedded(file));
    }
    if path.is_file() {
        return Ok(Source::Disk(path.to_path_buf()));
    }
    Err(not_found())
}

/// The text of a located file.
pub fn read(source: &Source) -> Result<Cow<'static, str>, LoadError> {
    match source {
        Source::Embedded(file) => Ok(Cow::Borrowed(file.text)),
        Source::Disk(path) => std::fs::read_to_string(path)
            .map(Cow::Owned)
            .map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            }),
    }
}

/// Locates and reads a configured file.
pub fn read_configured(path: &Path, config_dir: &Path) -> Result<String, LoadError> {
    locate(path, config_dir)
        .and_then(|s| read(&s))
        .map(Cow::into_owned)
}

/// Where each model file of the settings comes from, by setting name (`pipeline.user_dict`, …),
/// for `check-config`.
pub fn model_sources(
    settings: &PipelineSettings,
) -> Result<Vec<(&'static str, Source)>, LoadError> {
    let dir = settings.config_dir();
    Ok(vec![
        ("pipeline.user_dict", locate(&settings.user_dict, dir)?),
        ("pipeline.idf", locate(&settings.idf, dir)?),
        ("pipeline.classifier", locate(&settings.classifier, dir)?),
        ("pipeline.entities", locate(&settings.entities, dir)?),
    ])
}

/// jieba as the pipeline configures it: the default dictionary plus the configured user
/// dictionary (`pipeline.user_dict`, located like every model file), for the development
/// commands that tokenise as the pipeline does.
pub fn jieba(settings: &PipelineSettings) -> Result<jieba_rs::Jieba, LoadError> {
    let dict = read_configured(&settings.user_dict, settings.config_dir())?;
    Ok(crate::pipeline::build_jieba(&dict)?)
}

/// Reads the model files named in the settings. A missing file is an error: a worker must not
/// start with a silently empty model.
pub fn load_resources(settings: &PipelineSettings) -> Result<Resources, LoadError> {
    let dir = settings.config_dir();
    Ok(Resources {
        user_dict: read_configured(&settings.user_dict, dir)?,
        idf: read_configured(&settings.idf, dir)?,
        classifier: read_configured(&settings.classifier, dir)?,
        entities: read_configured(&settings.entities, dir)?,
        segmenter: settings
            .segmenter
            .as_deref()
            .map(|p| read_configured(p, dir))
            .transpose()?,
        keywords_top_k: settings.keywords_top_k,
    })
}

/// The limits configured in the settings.
pub fn limits(settings: &PipelineSettings) -> Limits {
    Limits {
        max_page_bytes: settings.max_page_bytes,
        max_page_chars: settings.max_page_chars,
        max_paragraphs: settings.max_paragraphs,
        max_articles: settings.max_articles,
        max_page_id_bytes: settings.max_page_id_bytes,
    }
}

/// Reads the files and builds the pipeline.
pub fn build_pipeline(settings: &PipelineSettings) -> Result<Pipeline, LoadError> {
    let resources = load_resources(settings)?;
    Ok(Pipeline::new(&resources, limits(settings))?.with_review_below(settings.review_below))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn every_file_of_the_config_directory_is_embedded_as_it_is_on_disk() {
        let mut on_disk: Vec<String> = std::fs::read_dir(config_dir())
            .expect("config/")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut table: Vec<String> = EMBEDDED.iter().map(|f| f.name.to_owned()).collect();
        table.sort();
        assert_eq!(on_disk, table, "add the new file of config/ to EMBEDDED");
        for file in EMBEDDED {
            let disk = std::fs::read_to_string(config_dir().join(file.name)).expect("read");
            assert_eq!(file.text, disk, "{} is stale", file.name);
        }
    }

    #[test]
    fn a_bare_name_is_the_config_directory_file_else_the_embedded_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = Path::new("userdict.txt");
        match locate(name, dir.path()).expect("embedded") {
            Source::Embedded(file) => assert_eq!(file.name, "userdict.txt"),
            other => panic!("{other}"),
        }
        std::fs::write(dir.path().join("userdict.txt"), "安全生产 9 n\n").expect("write");
        let source = locate(name, dir.path()).expect("on disk");
        assert_eq!(source, Source::Disk(dir.path().join("userdict.txt")));
        assert_eq!(read(&source).expect("read"), "安全生产 9 n\n");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        for path in ["no-such-model.json", "/no/such/model.json"] {
            let err = locate(Path::new(path), dir.path()).expect_err("missing");
            assert!(err.to_string().contains(path), "{err}");
        }
    }
}
