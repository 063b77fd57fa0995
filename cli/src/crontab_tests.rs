//! Every kind of crontab line, and what it becomes.

use super::*;

fn one(text: &str, kind: Kind) -> What {
    let plan = parse(text, kind);
    assert_eq!(plan.len(), 1, "{plan:?}");
    plan.into_iter().next().expect("one line").what
}

fn entry_of(text: &str) -> Entry {
    match one(text, Kind::User) {
        What::Entry(e) => e,
        other => panic!("not an entry: {other:?}"),
    }
}

fn skipped(text: &str, kind: Kind) -> String {
    match one(text, kind) {
        What::Skipped(why) => why,
        other => panic!("not skipped: {other:?}"),
    }
}

#[test]
fn a_plain_entry_is_a_job_with_its_schedule_and_command() {
    let e = entry_of("*/5 9-17 * * mon-fri   /usr/bin/backup --all  ");
    assert_eq!(e.schedule, "*/5 9-17 * * mon-fri");
    assert_eq!(e.command, "/usr/bin/backup --all  ");
    assert_eq!((e.timezone, e.name, e.user), (None, None, None));
}

#[test]
fn keywords_are_schedules_but_reboot_is_skipped() {
    assert_eq!(entry_of("@daily run-me").schedule, "@daily");
    assert_eq!(entry_of("@hourly  a b").command, "a b");
    assert!(skipped("@reboot start-things", Kind::User).contains("@reboot"));
    assert!(skipped("@once x", Kind::User).contains("@once"));
}

#[test]
fn a_bad_field_is_skipped_naming_the_problem() {
    let why = skipped("61 * * * * echo", Kind::User);
    assert!(
        why.contains("bad schedule") && why.contains("minute"),
        "{why}"
    );
    assert!(skipped("@fortnightly echo", Kind::User).contains("bad schedule"));
    assert!(skipped("* * * *", Kind::User).contains("needs a schedule and a command"));
}

#[test]
fn the_comment_directly_above_an_entry_names_it() {
    let plan = parse(
        "# nightly backup\n0 3 * * * backup\n\n# far away\n\n0 4 * * * other\n",
        Kind::User,
    );
    let names: Vec<_> = plan
        .iter()
        .map(|p| match &p.what {
            What::Entry(e) => (p.line, e.name.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, vec![(2, Some("nightly backup".into())), (6, None)]);
}

#[test]
fn percent_ends_the_command_and_the_rest_is_its_input() {
    let e = entry_of(r"0 0 * * * mail -s 'at 100\%' root%line one%line two");
    assert_eq!(
        e.command,
        "printf '%s' 'line one\nline two\n' | (\nmail -s 'at 100%' root\n)"
    );
    assert_eq!(entry_of(r"0 0 * * * date +\%Y-\%m").command, "date +%Y-%m");
    // An empty input is nothing: cron adds a last newline only to an input.
    assert_eq!(
        entry_of("0 0 * * * cat%").command,
        "printf '%s' '' | (\ncat\n)"
    );
    assert_eq!(skipped("0 0 * * * %input only", Kind::User), "no command");
}

fn zones(text: &str) -> Vec<Option<String>> {
    parse(text, Kind::User)
        .iter()
        .filter_map(|p| match &p.what {
            What::Entry(e) => Some(e.timezone.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn cron_tz_lines_apply_to_the_entries_below() {
    assert_eq!(
        zones(
            "0 1 * * * a\nCRON_TZ=Europe/Berlin\n0 2 * * * b\nCRON_TZ=\"America/New_York\"\n0 3 * * * c\n"
        ),
        vec![
            None,
            Some("Europe/Berlin".into()),
            Some("America/New_York".into())
        ]
    );
}

#[test]
fn an_empty_cron_tz_is_the_default_zone_again() {
    let plan = parse(
        "CRON_TZ=Europe/Berlin\n0 1 * * * a\nCRON_TZ=\n0 2 * * * b\n",
        Kind::User,
    );
    assert!(
        matches!(&plan[2].what, What::Env { applied: true, .. }),
        "{plan:?}"
    );
    assert!(
        matches!(&plan[3].what, What::Entry(e) if e.timezone.is_none()),
        "{plan:?}"
    );
}

#[test]
fn tz_is_a_variable_of_the_commands_not_the_schedule_zone() {
    let plan = parse("TZ=America/New_York\n0 3 * * * c\n", Kind::User);
    match &plan[1].what {
        What::Entry(e) => {
            assert_eq!(e.timezone, None);
            assert_eq!(e.command, "export TZ='America/New_York'; c");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn comments_as_names_lose_control_characters_and_runs_of_whitespace() {
    let e = entry_of("#  nightly\tbackup \u{7}  of   /home\n0 3 * * * backup");
    assert_eq!(e.name.as_deref(), Some("nightly backup of /home"));
}

#[test]
fn a_commented_out_entry_or_the_template_header_names_nothing() {
    for text in [
        "# 0 3 * * * old-backup\n0 4 * * * backup",
        "#@daily old\n0 4 * * * backup",
        "# m h  dom mon dow   command\n0 4 * * * backup",
        "# MAILTO=me\n0 4 * * * backup",
    ] {
        let plan = parse(text, Kind::User);
        assert!(
            matches!(&plan[..], [Planned { what: What::Entry(e), .. }] if e.name.is_none()),
            "{text}: {plan:?}"
        );
    }
    // A system crontab's commented-out entry has a user column.
    let plan = parse("# 0 3 * * * root old\n0 4 * * * root backup", Kind::System);
    assert!(
        matches!(&plan[0].what, What::Entry(e) if e.name.is_none()),
        "{plan:?}"
    );
}

#[test]
fn an_escaped_backslash_leaves_the_percent_unescaped() {
    // `\\` is a backslash escaped (kept as cron keeps it), so the `%` still ends the command.
    assert_eq!(
        entry_of(r"0 0 * * * echo a\\%in").command,
        "printf '%s' 'in\n' | (\necho a\\\\\n)"
    );
    // `\\\%`: an escaped backslash, then a literal `%`.
    assert_eq!(entry_of(r"0 0 * * * echo a\\\%b").command, r"echo a\\%b");
    // Any other escape is left as it is.
    assert_eq!(entry_of(r"0 0 * * * echo a\nb\").command, r"echo a\nb\");
}

#[test]
fn an_unknown_time_zone_skips_the_entries_below_it() {
    let plan = parse("CRON_TZ=Mars/Olympus\n0 2 * * * b\n", Kind::User);
    assert!(
        matches!(&plan[0].what, What::Env { applied: false, .. }),
        "{plan:?}"
    );
    match &plan[1].what {
        What::Skipped(why) => assert!(why.contains("Mars/Olympus"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_variables_are_exported_to_the_commands_below() {
    let plan = parse(
        "PATH=/opt/bin:/usr/bin\nGREETING = 'it''s'\nPATH=/x\n0 0 * * * hello\n",
        Kind::User,
    );
    match &plan[3].what {
        What::Entry(e) => assert_eq!(
            e.command,
            r"export GREETING='it'\'''\''s'; export PATH='/x'; hello"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mail_and_other_shells_are_reported_not_applied() {
    for (line, applied) in [
        ("MAILTO=ops@example.com", false),
        ("MAILFROM=cron", false),
        ("SHELL=/bin/bash", false),
        ("SHELL=/bin/sh", true),
        ("RANDOM_DELAY=10", false),
    ] {
        match one(line, Kind::User) {
            What::Env {
                applied: a, note, ..
            } => assert_eq!(a, applied, "{line}: {note}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    // Nothing of them reaches a command.
    let plan = parse("MAILTO=x\nSHELL=/bin/bash\n0 0 * * * a\n", Kind::User);
    assert!(matches!(&plan[2].what, What::Entry(e) if e.command == "a"));
}

#[test]
fn a_system_crontab_has_a_user_column() {
    match one(
        "17 * * * * root  cd / && run-parts --report /etc/cron.hourly",
        Kind::System,
    ) {
        What::Entry(e) => {
            assert_eq!(e.user.as_deref(), Some("root"));
            assert_eq!(e.command, "cd / && run-parts --report /etc/cron.hourly");
        }
        other => panic!("{other:?}"),
    }
    match one("@daily backup /usr/local/bin/dump", Kind::System) {
        What::Entry(e) => assert_eq!(
            (e.schedule.as_str(), e.user.as_deref()),
            ("@daily", Some("backup"))
        ),
        other => panic!("{other:?}"),
    }
    assert!(skipped("0 0 * * * root", Kind::System).contains("a user and a command"));
}

#[test]
fn system_files_are_known_by_their_path() {
    use std::path::Path;
    assert_eq!(Kind::of_path(Path::new("/etc/crontab")), Kind::System);
    assert_eq!(Kind::of_path(Path::new("/etc/cron.d/php")), Kind::System);
    assert_eq!(Kind::of_path(Path::new("mycron")), Kind::User);
}

#[test]
fn blank_lines_and_comments_make_no_line_of_the_plan() {
    let plan = parse(
        "\n   \n# just a note\n\t# indented\n0 0 * * * a\r\n",
        Kind::User,
    );
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].line, 5);
    assert!(
        matches!(&plan[0].what, What::Entry(e) if e.command == "a" && e.name.as_deref() == Some("indented"))
    );
}
