//! The field table ([`fields.toml`](fields.toml), embedded): which paths of a template's
//! variables are patron fields, and of which kind. Resolves a path such as
//! `hold.patron.card.barcode` against it.

use super::Ils;
use crate::exact::Annot;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

const TABLE: &str = include_str!("fields.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIls {
    #[serde(default)]
    tables: BTreeMap<String, String>,
    #[serde(default)]
    types: BTreeMap<String, RawType>,
    #[serde(default)]
    anywhere: Kinds,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Kinds {
    #[serde(default)]
    name: Vec<String>,
    #[serde(default)]
    card: Vec<String>,
    #[serde(default)]
    email: Vec<String>,
    #[serde(default)]
    phone: Vec<String>,
    #[serde(default)]
    address: Vec<String>,
    #[serde(default)]
    birthdate: Vec<String>,
    #[serde(default)]
    custom: Vec<String>,
    #[serde(default)]
    drop: Vec<String>,
}

impl Kinds {
    fn each(&self) -> impl Iterator<Item = (&String, Annot)> {
        [
            (&self.name, Annot::Name),
            (&self.card, Annot::Card),
            (&self.email, Annot::Email),
            (&self.phone, Annot::Phone),
            (&self.address, Annot::Address),
            (&self.birthdate, Annot::Birthdate),
            (&self.custom, Annot::Custom),
            (&self.drop, Annot::Drop),
        ]
        .into_iter()
        .flat_map(|(fields, a)| fields.iter().map(move |f| (f, a)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    #[serde(default)]
    via: Vec<String>,
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default)]
    objects: BTreeMap<String, String>,
    #[serde(flatten)]
    kinds: Kinds,
}

/// What a path (or its start) refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Res {
    /// An object of this type (an index of [`Fields::types`]).
    Type(usize),
    /// A patron field of this kind.
    Field(Annot),
}

#[derive(Default)]
struct Type {
    fields: HashMap<String, Annot>,
    objects: HashMap<String, usize>,
}

/// The table for one choice of ILS (both merged for `auto`).
#[derive(Default)]
pub(super) struct Fields {
    types: Vec<Type>,
    names: Vec<String>,
    via: HashMap<String, usize>,
    roots: HashMap<String, usize>,
    anywhere: HashMap<String, Annot>,
    tables: HashMap<String, usize>,
}

impl Fields {
    /// The table for `ils`.
    pub(super) fn get(ils: Ils) -> &'static Fields {
        static KOHA: LazyLock<Fields> = LazyLock::new(|| Fields::load(&["koha"]));
        static EVERGREEN: LazyLock<Fields> = LazyLock::new(|| Fields::load(&["evergreen"]));
        static BOTH: LazyLock<Fields> = LazyLock::new(|| Fields::load(&["koha", "evergreen"]));
        match ils {
            Ils::Koha => &KOHA,
            Ils::Evergreen => &EVERGREEN,
            Ils::Auto => &BOTH,
        }
    }

    /// The embedded table's sections `which`, merged: a type of the same name in two
    /// sections is one type with the fields of both. Panics on a broken table or on a field
    /// given two kinds (the tests load every choice).
    fn load(which: &[&str]) -> Fields {
        let all: BTreeMap<String, RawIls> = toml::from_str(TABLE).expect("fields.toml parses");
        let mut f = Fields::default();
        let ty = |f: &mut Fields, name: &str| -> usize {
            match f.names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    f.names.push(name.to_string());
                    f.types.push(Type::default());
                    f.names.len() - 1
                }
            }
        };
        let put = |map: &mut HashMap<String, Annot>, field: &str, a: Annot| {
            let old = map.insert(field.to_string(), a);
            assert!(
                old.is_none_or(|o| o == a),
                "fields.toml: `{field}` has two kinds"
            );
        };
        for ils in which {
            let raw = all.get(*ils).expect("the ILS is in fields.toml");
            for (name, t) in &raw.types {
                let i = ty(&mut f, name);
                for v in &t.via {
                    f.via.insert(v.clone(), i);
                }
                for r in &t.roots {
                    f.roots.insert(r.clone(), i);
                }
                for (member, target) in &t.objects {
                    let j = ty(&mut f, target);
                    f.types[i].objects.insert(member.clone(), j);
                }
                for (field, a) in t.kinds.each() {
                    put(&mut f.types[i].fields, field, a);
                }
            }
            for (field, a) in raw.anywhere.each() {
                put(&mut f.anywhere, field, a);
            }
            for (table, target) in &raw.tables {
                let j = ty(&mut f, target);
                f.tables.insert(table.clone(), j);
            }
        }
        f
    }

    /// The type a Koha `<<table.…>>` placeholder's table is.
    pub(super) fn table(&self, table: &str) -> Option<usize> {
        self.tables.get(table).copied()
    }

    /// What `path` (its segments; numbers and empty segments are indexes, skipped) refers
    /// to, given what the template's own variables refer to (`aliases`). A field's further
    /// segments (`.upper`, `.substr(0, 1)`) keep it a field of its kind.
    pub(super) fn resolve(&self, path: &[&str], aliases: &HashMap<String, Res>) -> Option<Res> {
        let mut at: Option<Res> = None;
        for (i, seg) in path.iter().enumerate() {
            if seg.is_empty() || seg.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            at = match at {
                Some(Res::Field(a)) => return Some(Res::Field(a)),
                Some(Res::Type(t)) => {
                    let t = &self.types[t];
                    if let Some(&a) = t.fields.get(*seg) {
                        Some(Res::Field(a))
                    } else if let Some(&o) = t.objects.get(*seg) {
                        Some(Res::Type(o))
                    } else {
                        self.member(seg)
                    }
                }
                None if i == 0 => aliases
                    .get(*seg)
                    .copied()
                    .or_else(|| self.roots.get(*seg).map(|&t| Res::Type(t)))
                    .or_else(|| self.member(seg)),
                None => self.member(seg),
            };
        }
        at
    }

    /// What a member name refers to wherever it stands.
    fn member(&self, seg: &str) -> Option<Res> {
        self.via
            .get(seg)
            .map(|&t| Res::Type(t))
            .or_else(|| self.anywhere.get(seg).map(|&a| Res::Field(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ils: Ils, path: &str) -> Option<Annot> {
        let segs: Vec<&str> = path.split('.').collect();
        match Fields::get(ils).resolve(&segs, &HashMap::new()) {
            Some(Res::Field(a)) => Some(a),
            _ => None,
        }
    }

    #[test]
    fn every_choice_of_table_loads_without_a_field_of_two_kinds() {
        for ils in [Ils::Koha, Ils::Evergreen, Ils::Auto] {
            assert!(Fields::get(ils).types.len() >= 2);
        }
    }

    #[test]
    fn paths_resolve_through_objects_and_only_patron_fields_count() {
        use Annot::*;
        let a = Ils::Auto;
        assert_eq!(kind(a, "borrower.surname"), Some(Name));
        assert_eq!(kind(a, "hold.patron.firstname"), Some(Name));
        assert_eq!(kind(a, "patron.card.barcode"), Some(Card));
        assert_eq!(
            kind(a, "template_data.patron.mailing_address.post_code"),
            Some(Address)
        );
        assert_eq!(kind(a, "address.street1"), Some(Address));
        assert_eq!(kind(a, "hold_data.patron_last"), Some(Name));
        assert_eq!(kind(a, "patron.dob.year"), Some(Birthdate));
        assert_eq!(kind(a, "patron.pref_first_given_name"), Some(Name));
        // Not the patron's: staff, libraries, items.
        assert_eq!(kind(a, "staff.first_given_name"), None);
        assert_eq!(kind(a, "dest_address.street1"), None);
        assert_eq!(kind(a, "current_location.address.street1"), None);
        assert_eq!(kind(a, "patron.home_ou.name"), None);
        assert_eq!(kind(a, "checkout.copy.barcode"), None);
        assert_eq!(kind(a, "title"), None);
        // Each ILS has its own names.
        assert_eq!(kind(Ils::Koha, "patron.first_given_name"), None);
        assert_eq!(kind(Ils::Evergreen, "patron.firstname"), None);
    }
}
