//! Compiles a copy of every `printer-profiles/*.toml` into the binary, so `cargo run` works
//! from a fresh clone and an installed binary works without its data directory; and every
//! label lexicon (`src/core/redact/lexicon/*.toml`, one per language), so adding a language
//! is adding a file.

use std::{env, fs, path::Path};

fn main() {
    embed(
        "printer-profiles",
        "embedded_profiles.rs",
        "profile shipped in printer-profiles/",
    );
    embed(
        "src/core/redact/lexicon",
        "embedded_lexicons.rs",
        "label lexicon in src/core/redact/lexicon/",
    );
}

/// Writes `OUT_DIR/out`: a static `EMBEDDED` list of (file stem, text) of every `.toml`
/// file in `dir`, sorted by name.
fn embed(dir: &str, out_name: &str, what: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} is not readable: {e}", dir.display()))
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    let mut out = format!("/// (name, TOML text) of every {what}.\n");
    out.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for n in &names {
        let path = dir.join(format!("{n}.toml"));
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join(out_name);
    fs::write(dest, out).unwrap_or_else(|e| panic!("write {out_name}: {e}"));
}
