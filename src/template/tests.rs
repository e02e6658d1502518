use super::*;

fn run(ils: Ils, t: &str) -> (String, Vec<Placeholder>) {
    let a = annotate(t.as_bytes(), ils);
    (String::from_utf8(a.output).unwrap(), a.placeholders)
}

fn out(t: &str) -> String {
    run(Ils::Auto, t).0
}

#[test]
fn koha_placeholders_are_wrapped_and_nothing_else_changes() {
    let t = "<p>Name: <<borrowers.firstname>> <<borrowers.surname>>\r\n\
             Card: <<borrowers.cardnumber>> Due: <<issues.date_due | dateonly>>\r\n\
             Hold id: <<borrower-attribute:HOLDID>> <<branches.branchname>></p>";
    let o = out(t);
    assert_eq!(
        o,
        "<p>Name: <span data-slipguard=\"name\"><<borrowers.firstname>></span> \
         <span data-slipguard=\"name\"><<borrowers.surname>></span>\r\n\
         Card: <span data-slipguard=\"card\"><<borrowers.cardnumber>></span> Due: <<issues.date_due | dateonly>>\r\n\
         Hold id: <span data-slipguard=\"custom\"><<borrower-attribute:HOLDID>></span> <<branches.branchname>></p>"
    );
    // Again: nothing changes.
    assert_eq!(out(&o), o);
}

#[test]
fn tt_and_angular_placeholders_with_filters_chomping_and_loops() {
    let t = "[% SET patron = template_data.patron %]<div>[%- patron.first_given_name | html -%] \
             {{ ::patron.card.barcode }} [% staff.first_given_name %]\n\
             [% FOR a IN patron.addresses %]<p>[% a.street1 %]</p>[% END %]</div>";
    let o = out(t);
    assert_eq!(
        o,
        "[% SET patron = template_data.patron %]<div><span data-slipguard=\"name\">[%- patron.first_given_name | html -%] </span>\
         <span data-slipguard=\"card\">{{ ::patron.card.barcode }}</span> [% staff.first_given_name %]\n\
         [% FOR a IN patron.addresses %]<p><span data-slipguard=\"address\">[% a.street1 %]</span></p>[% END %]</div>"
    );
    assert_eq!(out(&o), o);
}

#[test]
fn attributes_comments_scripts_blocks_and_ng_bind() {
    let t = "<a href=\"mailto:[% patron.email %]\" title='{{patron.email}}'>x</a>\
             <!-- <<borrowers.surname>> -->\
             <script>var n = \"[% patron.firstname %]\";</script>\
             [% IF patron.email; patron.email %]<br>[% END %]\
             <span ng-bind=\"patron.email\"></span><td ng-bind=\"patron.day_phone\"></td>\
             <title>{{patron.family_name}}</title>";
    let (o, ps) = run(Ils::Auto, t);
    let st: Vec<Status> = ps.iter().map(|p| p.status).collect();
    assert!(matches!(st[0], Status::NotPrinted(_)), "{st:?}");
    assert!(matches!(st[1], Status::NotPrinted(_)));
    assert!(matches!(st[2], Status::NotPrinted(_)), "comment");
    assert!(matches!(st[3], Status::Unsafe(w) if w.contains("script")));
    assert!(matches!(st[4], Status::Unsafe(w) if w.contains("block")));
    assert_eq!(st[5], Status::Wrapped);
    assert!(matches!(st[6], Status::Unsafe(w) if w.contains("ng-bind")));
    assert!(matches!(st[7], Status::NotPrinted(_)), "title");
    assert_eq!(st.len(), 8);
    assert!(
        o.contains("<span data-slipguard=\"email\"><span ng-bind=\"patron.email\"></span></span>")
    );
    assert_eq!(
        o.len(),
        t.len() + "<span data-slipguard=\"email\"></span>".len()
    );
    assert_eq!(out(&o), o);
}

#[test]
fn already_annotated_placeholders_are_left_alone() {
    let t = "<td data-slipguard=\"name\"><<borrowers.firstname>> <<borrowers.surname>></td>\
             <span data-slipguard=custom>[% patron.email %]</span>\
             <span data-slipguard=\"nmae\">[% patron.surname %]</span>";
    let a = annotate(t.as_bytes(), Ils::Koha);
    let st: Vec<Status> = a.placeholders.iter().map(|p| p.status).collect();
    assert_eq!(
        st,
        vec![
            Status::Annotated(Annot::Name),
            Status::Annotated(Annot::Name),
            Status::Annotated(Annot::Custom),
            Status::Wrapped
        ]
    );
    assert_eq!(a.unknown.len(), 1);
    assert!(a.needs_work());
    let r = report("t.html", t.as_bytes(), &a, true);
    assert!(r.contains("t.html:1:") && r.contains("nmae"), "{r}");
}

#[test]
fn each_syntax_belongs_to_its_ils() {
    let t = "<<borrowers.surname>> {{patron.family_name}} [% patron.firstname %] [% patron.family_name %]";
    let kinds = |ils| run(ils, t).1.iter().map(|p| p.syntax).collect::<Vec<_>>();
    assert_eq!(
        kinds(Ils::Koha),
        vec![Syntax::Koha, Syntax::TemplateToolkit]
    );
    assert_eq!(
        kinds(Ils::Evergreen),
        vec![Syntax::Angular, Syntax::TemplateToolkit]
    );
    assert_eq!(kinds(Ils::Auto).len(), 4);
}

#[test]
fn line_and_column_count_characters() {
    let a = annotate("é\n  ✓ <<borrowers.email>>".as_bytes(), Ils::Koha);
    assert_eq!((a.placeholders[0].line, a.placeholders[0].column), (2, 5));
}
