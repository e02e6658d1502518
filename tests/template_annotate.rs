//! `slipguard template annotate` as a site runs it: the built binary, a template on
//! standard input or in a file. Each tricky place a placeholder can stand has its documented
//! result (docs/exact-mode.md, `--help`): wrapped, left alone, or reported with its line and
//! column; `--check` fails exactly while something prints unannotated.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Run the command with `args`, `input` on standard input: exit code, stdout, stderr.
fn run(args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(common::bin())
        .args(["template", "annotate"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Annotate (exit 0), check the output is `want`, that annotating it again changes nothing,
/// and that `--check` then passes or fails as `check_after` says. The report (stderr).
fn annotate(input: &str, want: &str, check_after: i32) -> String {
    let (code, out, err) = run(&[], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(out.clone()).unwrap(), want, "{err}");
    let (code, again, _) = run(&[], &out);
    assert_eq!(code, 0);
    assert_eq!(again, out, "annotating twice changes nothing");
    let (code, _, _) = run(&["--check"], &out);
    assert_eq!(code, check_after, "--check after annotating");
    err
}

#[test]
fn placeholders_in_attributes_are_left_alone_and_do_not_fail_the_check() {
    let t = "<a href=\"mailto:[% patron.email %]\" title='<<borrowers.email>>'>[% patron.email %]</a>\n";
    let err = annotate(
        t,
        "<a href=\"mailto:[% patron.email %]\" title='<<borrowers.email>>'>\
         <span data-slipguard=\"email\">[% patron.email %]</span></a>\n",
        0,
    );
    assert!(
        err.contains("<stdin>:1:17: Template Toolkit directive `[% patron.email %]` (email) left as it is: in a tag or an attribute"),
        "{err}"
    );
    assert!(
        err.contains("<stdin>:1:44: Koha placeholder `<<borrowers.email>>`"),
        "{err}"
    );
    // Before annotating, the one in the text fails the check.
    let (code, out, err) = run(&["--check"], t.as_bytes());
    assert_eq!(code, 1);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("<stdin>:1:65: Template Toolkit directive `[% patron.email %]` (email) is not annotated\n"), "{out}");
    assert!(
        err.contains("not every patron placeholder is annotated"),
        "{err}"
    );
}

#[test]
fn loops_are_followed_and_their_bodies_wrapped() {
    let t =
        "[% FOREACH a IN patron.addresses %]<p>[% a.street1 %], [% a.city | html %]</p>[% END %]\n\
             <li ng-repeat=\"c in patron.cards\">{{c.barcode}}</li>\n\
             [% FOREACH i IN items %]<p>[% i.title %]</p>[% END %]\n";
    annotate(
        t,
        "[% FOREACH a IN patron.addresses %]<p><span data-slipguard=\"address\">[% a.street1 %]</span>, \
         <span data-slipguard=\"address\">[% a.city | html %]</span></p>[% END %]\n\
         <li ng-repeat=\"c in patron.cards\"><span data-slipguard=\"card\">{{c.barcode}}</span></li>\n\
         [% FOREACH i IN items %]<p>[% i.title %]</p>[% END %]\n",
        0,
    );
}

#[test]
fn conditionals_tests_stay_whole_directives_are_wrapped_and_block_openers_are_reported() {
    // A test prints nothing: untouched, not reported. A directive that closes what it opens
    // is wrapped whole. One that opens a block and prints cannot be wrapped: reported.
    let t = "[% IF borrower.email %]<p>Mail: [% borrower.email %]</p>[% END %]\n\
             <p>[% IF borrower.preferred_name; borrower.preferred_name; ELSE; borrower.firstname; END %]</p>\n\
             <p>[% IF borrower.mobile; borrower.mobile %] (mobile)[% END %]</p>\n\
             <div ng-if=\"patron.email\">{{patron.email}}</div>\n";
    let want = "[% IF borrower.email %]<p>Mail: <span data-slipguard=\"email\">[% borrower.email %]</span></p>[% END %]\n\
             <p><span data-slipguard=\"name\">[% IF borrower.preferred_name; borrower.preferred_name; ELSE; borrower.firstname; END %]</span></p>\n\
             <p>[% IF borrower.mobile; borrower.mobile %] (mobile)[% END %]</p>\n\
             <div ng-if=\"patron.email\"><span data-slipguard=\"email\">{{patron.email}}</span></div>\n";
    let err = annotate(t, want, 1);
    assert!(
        err.contains("<stdin>:3:4: Template Toolkit directive `[% IF borrower.mobile; borrower.mobile %]` (phone) is not annotated: the directive opens or closes a block"),
        "{err}"
    );
    assert!(
        !err.contains("IF borrower.email %]`"),
        "a test is not reported: {err}"
    );
}

#[test]
fn placeholders_already_annotated_are_untouched_even_by_hand_and_of_another_kind() {
    let t = "<td data-slipguard=\"name\"><<borrowers.surname>>, <<borrowers.firstname>></td>\n\
             <span data-slipguard='custom'>[% patron.email %]</span>\n\
             <span data-slipguard=\"card\">{{patron.card.barcode}}</span>\n";
    let (code, out, err) = run(&[], t.as_bytes());
    assert_eq!(code, 0);
    assert_eq!(out, t.as_bytes(), "nothing to do");
    assert!(
        err.contains("<stdin>:2:31: Template Toolkit directive `[% patron.email %]` (email) is annotated as custom"),
        "{err}"
    );
    assert!(
        err.contains("4 patron placeholder(s): 0 wrapped, 4 already annotated"),
        "{err}"
    );
    let (code, out, _) = run(&["--check"], t.as_bytes());
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
}

#[test]
fn scripts_styles_and_directive_strings_are_reported_with_line_and_column() {
    let t = "<p>Hi</p>\n<script>\n  var who = \"[% patron.firstname %]\";\n</script>\n\
             <style>.x::after { content: '{{patron.family_name}}'; }</style>\n\
             <div>[% l('Hold for [_1]', '{{patron.family_name}}') %]</div>\n\
             <title><<borrowers.surname>></title><!-- [% patron.surname %] -->\n";
    let err = annotate(t, t, 1);
    for line in [
        "<stdin>:3:14: Template Toolkit directive `[% patron.firstname %]` (name) is not annotated: inside <script>",
        "<stdin>:5:30: AngularJS expression `{{patron.family_name}}` (name) is not annotated: inside <style>",
        "<stdin>:6:29: AngularJS expression `{{patron.family_name}}` (name) is not annotated: inside a Template Toolkit directive",
        "<stdin>:7:8: Koha placeholder `<<borrowers.surname>>` (name) left as it is: inside an element slipguard never prints",
        "<stdin>:7:42: Template Toolkit directive `[% patron.surname %]` (name) left as it is: in an HTML comment",
    ] {
        assert!(err.contains(line), "missing `{line}` in:\n{err}");
    }
}

#[test]
fn ng_bind_inline_elements_are_wrapped_whole_block_ones_reported() {
    let t = "<p>Mail: <span ng-bind=\"patron.email\"></span></p>\n\
             <td ng-bind=\"patron.day_phone\"></td>\n\
             <b ng-bind-template=\"{{patron.first_given_name}} {{patron.family_name}}\"></b>\n";
    let err = annotate(
        t,
        "<p>Mail: <span data-slipguard=\"email\"><span ng-bind=\"patron.email\"></span></span></p>\n\
         <td ng-bind=\"patron.day_phone\"></td>\n\
         <span data-slipguard=\"name\"><b ng-bind-template=\"{{patron.first_given_name}} {{patron.family_name}}\"></b></span>\n",
        1,
    );
    assert!(err.contains("<stdin>:2:1: ng-bind element"), "{err}");
    assert!(err.contains("ng-bind on a block element"), "{err}");
    // Annotated by hand, the block element passes.
    let fixed = t.replace("<td ng-bind", "<td data-slipguard=\"phone\" ng-bind");
    let (_, out, _) = run(&[], fixed.as_bytes());
    let (code, _, _) = run(&["--check"], &out);
    assert_eq!(code, 0);
}

#[test]
fn an_unknown_kind_fails_the_check() {
    let t = "<span data-slipguard=\"nmae\">[% patron.surname %]</span>\n";
    let (code, out, _) = run(&["--check"], t.as_bytes());
    assert_eq!(code, 1);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("<stdin>:1:1: data-slipguard=\"nmae\" is not a known kind"),
        "{out}"
    );
}

#[test]
fn only_spans_are_added_byte_for_byte_in_files_and_any_encoding() {
    let dir = common::temp("annotate-files");
    // CRLF, Latin-1 bytes (not UTF-8), tabs, a BOM: all kept.
    let mut t = b"\xEF\xBB\xBF<p>\tEmprunteur\xA0: <<borrowers.surname>>\r\n".to_vec();
    t.extend(b"<p>Caf\xE9 <<borrowers.cardnumber>></p>\r\n");
    let input = dir.join("slip.html");
    std::fs::write(&input, &t).unwrap();
    let out = dir.join("out.html");
    let (code, _, err) = {
        let o = Command::new(common::bin())
            .args(["template", "annotate", "--ils", "koha"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, 0, "{err}");
    let mut want = b"\xEF\xBB\xBF<p>\tEmprunteur\xA0: <span data-slipguard=\"name\"><<borrowers.surname>></span>\r\n".to_vec();
    want.extend(
        b"<p>Caf\xE9 <span data-slipguard=\"card\"><<borrowers.cardnumber>></span></p>\r\n",
    );
    assert_eq!(std::fs::read(&out).unwrap(), want);
    assert!(err.contains("slip.html:1:"), "{err}");
    // In place.
    let o = Command::new(common::bin())
        .args(["template", "annotate"])
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(std::fs::read(&input).unwrap(), want);
    // A file that cannot be read: an error naming it.
    let o = Command::new(common::bin())
        .args(["template", "annotate"])
        .arg(dir.join("missing.html"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.html"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ils_choice_limits_syntaxes_and_field_names() {
    let t = "<<borrowers.surname>> {{patron.family_name}} [% patron.firstname %]\n";
    let (_, koha, _) = run(&["--ils", "koha"], t.as_bytes());
    assert_eq!(
        String::from_utf8(koha).unwrap(),
        "<span data-slipguard=\"name\"><<borrowers.surname>></span> {{patron.family_name}} \
         <span data-slipguard=\"name\">[% patron.firstname %]</span>\n"
    );
    let (_, eg, _) = run(&["--ils", "evergreen"], t.as_bytes());
    assert_eq!(
        String::from_utf8(eg).unwrap(),
        "<<borrowers.surname>> <span data-slipguard=\"name\">{{patron.family_name}}</span> \
         [% patron.firstname %]\n"
    );
}
