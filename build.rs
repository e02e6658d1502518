//! Compiles a copy of every `printer-profiles/*.toml` into the binary, so `cargo run` works
//! from a fresh clone and an installed binary works without its data directory.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("printer-profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("printer-profiles/ is readable")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    let mut out =
        String::from("/// (name, TOML text) of every profile shipped in printer-profiles/.\n");
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
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("embedded_profiles.rs");
    fs::write(dest, out).expect("write embedded_profiles.rs");
}
