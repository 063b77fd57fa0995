//! The web page in a real browser (headless Chromium through chromedriver), against a real
//! cluster through HAProxy: signing in, a script job uploaded through the file input, its
//! run's live output, a long run killed from its page, pause and resume, the tick grid, what a
//! non-admin may not see, and the layout at phone width. Each page's screenshot is saved under
//! `.distcron/test/ui/`.

mod ui_browser;

use distcron_e2e::{ClusterOptions, TestCluster};
use serde_json::json;
use std::time::Duration;
use ui_browser::Browser;

const SHORT: Duration = Duration::from_secs(10);
/// A run from "Run now" to its end, or a tick grid filling, through a real worker.
const LONG: Duration = Duration::from_secs(45);

fn small_cluster() -> ClusterOptions {
    ClusterOptions {
        apis: 2,
        managers: 1,
        workers: 1,
        ..Default::default()
    }
}

/// Signs in with `token` and waits until the page names the user.
async fn sign_in(b: &Browser, base: &str, token: &str, name: &str) {
    b.goto(&format!("{base}/#/jobs")).await;
    b.type_into("#token", token).await;
    b.click("#sign-in button[type=submit]").await;
    b.until_text("#me", name, SHORT).await;
}

/// The id in the page's hash `#/<kind>/<id>`, once it is there.
async fn id_in_hash(b: &Browser, kind: &str) -> String {
    let v = b
        .until(
            &format!("the page to show a {kind}"),
            LONG,
            "const m = new RegExp('^#/' + arguments[0] + '/([0-9a-f-]{36})$').exec(location.hash); \
             return m ? m[1] : null;",
            json!(kind),
        )
        .await;
    v.as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_admin_creates_a_script_job_watches_its_runs_kills_one_and_pauses_it() {
    // The browser first: without chromedriver the test fails at once, saying how to get it.
    let b = Browser::start().await;
    let cluster = TestCluster::start_with(small_cluster()).await;
    let base = cluster.url();
    let admin = cluster.admin();

    // The page is served through HAProxy, with a strict CSP; the sign-in form first.
    let page = reqwest::get(format!("{base}/")).await.expect("GET /");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    b.goto(&format!("{base}/")).await;
    b.wait_for("#token").await;
    b.screenshot("sign-in").await;
    sign_in(&b, &base, &cluster.admin_token, "admin").await;
    b.until_text("#me", "(admin)", SHORT).await;

    // A new script job: the schedule's preview and its error as it is typed, the file picked.
    b.goto(&format!("{base}/#/jobs/new")).await;
    b.wait_for("#job-type")
        .await
        .select_by_value("script")
        .await
        .expect("script");
    b.type_into("#job-name", "hello-ui").await;
    b.type_into("#job-schedule", "61 * * * *").await;
    let error = b.until_text("#job-schedule-error", "minute", SHORT).await;
    assert!(error.contains("61"), "the API's words: {error}");
    b.type_into("#job-schedule", "*/3 * * * * *").await;
    b.until(
        "five fire times",
        SHORT,
        "return document.querySelectorAll('#schedule-preview li').length === 5",
        json!(null),
    )
    .await;
    assert_eq!(b.text("#job-schedule-error").await, "");
    assert_eq!(b.text("#schedule-words").await, "Every 3 seconds");
    let script = cluster.shared_dir().join("hello-ui.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"hello from the page, run $DISTCRON_RUN_ID\"\n",
    )
    .expect("script");
    b.wait_for("#job-file")
        .await
        .send_keys(script.to_str().expect("path"))
        .await
        .expect("file");
    b.screenshot("new-job").await;
    b.click("#job-submit").await;
    let job = id_in_hash(&b, "jobs").await;
    b.until_text("main h1", "hello-ui", SHORT).await;
    let made = admin.get(&format!("/jobs/{job}")).await.body;
    assert_eq!(made["type"], "script", "{made}");
    assert!(made["sha256"].is_string(), "uploaded: {made}");

    // Run now: the run's page shows its output and its outcome.
    b.click("#run-now").await;
    let run = id_in_hash(&b, "runs").await;
    b.until_text("#output", &format!("hello from the page, run {run}"), LONG)
        .await;
    b.until_text("#run-status", "succeeded", LONG).await;
    b.screenshot("run").await;

    // The tick grid fills with the schedule's ticks, each a cell coloured by its state.
    b.goto(&format!("{base}/#/jobs/{job}")).await;
    b.until(
        "three succeeded ticks and an upcoming one",
        LONG,
        "return document.querySelectorAll('.ticks .st-succeeded').length >= 3 \
             && document.querySelectorAll('.ticks .st-upcoming').length > 0",
        json!(null),
    )
    .await;
    let title = b
        .wait_for(".ticks .st-succeeded")
        .await
        .attr("title")
        .await
        .expect("title");
    assert!(title.is_some_and(|t| t.contains("succeeded")));

    // Pause and resume from the job's page.
    b.click("#pause").await;
    b.wait_for("#resume").await;
    b.until_text("main .title", "paused", SHORT).await;
    assert_eq!(
        admin.get(&format!("/jobs/{job}")).await.body["status"],
        "paused"
    );
    // A tick that came due inside the pause shows as paused (the page reads the grid again
    // every 5 s; the pause's future ticks show so too, until it ends).
    b.until(
        "a paused tick in the past",
        LONG,
        "return [...document.querySelectorAll('.ticks .st-paused')] \
             .some((e) => Date.parse(e.dataset.at) < Date.now() - 1000);",
        json!(null),
    )
    .await;
    b.click("#resume").await;
    b.wait_for("#pause").await;
    b.until_text("main .title", "scheduled", SHORT).await;
    assert_eq!(
        admin.get(&format!("/jobs/{job}")).await.body["status"],
        "scheduled"
    );

    // A long run, killed from its page while its output streams in.
    let long = admin
        .create_job(&json!({
            "type": "command", "schedule": "0 0 1 1 *", "name": "long-ui",
            "executable": "echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done",
        }))
        .await;
    b.goto(&format!(
        "{base}/#/jobs/{}",
        long["id"].as_str().expect("id")
    ))
    .await;
    b.click("#run-now").await;
    let long_run = id_in_hash(&b, "runs").await;
    b.until_text("#output", "tick 3", LONG).await;
    b.until_text("#run-status", "running", SHORT).await;
    b.screenshot("run-live").await;
    b.click("#kill").await;
    b.until_text("#run-status", "killed", LONG).await;
    let killed = admin.get(&format!("/runs/{long_run}")).await.body;
    assert_eq!(killed["status"], "killed", "{killed}");

    // Edit the long job (a timeout), then delete it, from its page.
    let long_id = long["id"].as_str().expect("id");
    b.goto(&format!("{base}/#/jobs/{long_id}")).await;
    b.click("#edit").await;
    b.type_into("#job-timeout_seconds", "30").await;
    b.click("#job-submit").await;
    b.until_text("main", "30 s", SHORT).await;
    let edited = admin.get(&format!("/jobs/{long_id}")).await.body;
    assert_eq!(
        (
            edited["timeout_seconds"].as_u64(),
            edited["version"].as_u64()
        ),
        (Some(30), Some(2)),
        "{edited}"
    );
    assert_eq!(
        edited["executable"], long["executable"],
        "the rest unchanged"
    );
    b.click("#delete").await;
    b.click("#confirm-delete").await;
    b.until_text("main .title", "finished", SHORT).await;
    assert_eq!(
        admin.get(&format!("/jobs/{long_id}")).await.body["status"],
        "finished"
    );

    // Workers, admin and the jobs table.
    b.goto(&format!("{base}/#/workers")).await;
    b.until_text("#workers", "open", SHORT).await;
    b.screenshot("workers").await;
    b.goto(&format!("{base}/#/admin")).await;
    b.type_into("#user-name", "carol").await;
    b.click("#create-user button[type=submit]").await;
    let token = b
        .until(
            "carol's token, shown once",
            SHORT,
            "const e = document.querySelector('#new-token'); return e && e.value;",
            json!(null),
        )
        .await;
    assert!(token.as_str().is_some_and(|t| t.starts_with("dct_")));
    b.until_text("#audit", "user.create", SHORT).await;
    b.screenshot("admin").await;
    b.goto(&format!("{base}/#/jobs")).await;
    b.until_text("#jobs-list", "long-ui", SHORT).await;
    b.until_text("#jobs-list", "succeeded", SHORT).await;
    b.screenshot("jobs").await;
    b.type_into("#text-filter", "long").await;
    b.until(
        "the text filter to leave long-ui alone",
        SHORT,
        "const t = document.querySelector('#jobs-list').innerText;          return t.includes('long-ui') && !t.includes('hello-ui');",
        json!(null),
    )
    .await;

    // Back on the script job: its grid of succeeded, paused and upcoming ticks.
    b.goto(&format!("{base}/#/jobs/{job}")).await;
    b.until(
        "succeeded ticks after the pause",
        LONG,
        "const s = [...document.querySelectorAll('.ticks .tick')].map(e => e.dataset.state); \
         const p = s.lastIndexOf('paused'); \
         return p >= 0 && s.slice(p).includes('succeeded');",
        json!(null),
    )
    .await;
    b.screenshot("ticks").await;
    b.close().await;
}

#[tokio::test]
async fn a_non_admin_sees_only_its_own_jobs_and_the_page_fits_a_phone() {
    let b = Browser::start().await;
    let cluster = TestCluster::start_with(small_cluster()).await;
    let base = cluster.url();
    let theirs = cluster
        .admin()
        .create_job(&json!({"type": "command", "schedule": "@yearly", "executable": "true", "name": "admins-job"}))
        .await;
    let theirs = theirs["id"].as_str().expect("id");
    let alice = cluster.user("alice", false).await;
    alice
        .create_job(&json!({"type": "command", "schedule": "@hourly", "executable": "true", "name": "alices-job"}))
        .await;

    // A token that is not one: the page says so in words.
    b.goto(&format!("{base}/#/jobs")).await;
    b.type_into("#token", "dct_not_a_token").await;
    b.click("#sign-in button[type=submit]").await;
    b.until_text("#sign-in-error", "not accepted", SHORT).await;

    sign_in(&b, &base, alice.token.as_deref().expect("token"), "alice").await;
    b.until_text("#jobs-list", "alices-job", SHORT).await;
    assert!(!b.text("main").await.contains("admins-job"));
    assert!(!b.text("#me").await.contains("admin"));
    let hidden = b
        .client
        .execute("return document.querySelector('#nav-admin').hidden", vec![])
        .await
        .expect("script");
    assert_eq!(hidden, json!(true), "no admin link");
    // The token is in this tab's sessionStorage alone: no cookie, no localStorage, no URL.
    let kept = storage(&b).await;
    assert_eq!(kept["session"], json!(1), "{kept}");
    assert_eq!(
        (&kept["local"], &kept["cookie"], &kept["in_url"]),
        (&json!(0), &json!(""), &json!(false)),
        "{kept}"
    );

    // The admin's job by its URL: the API's 404, in words.
    b.goto(&format!("{base}/#/jobs/{theirs}")).await;
    let said = b.until_text("main .error", "no job", SHORT).await;
    assert!(said.contains(theirs), "{said}");
    b.screenshot("not-yours").await;
    b.goto(&format!("{base}/#/admin")).await;
    b.until_text("main .error", "Only admins", SHORT).await;

    // At phone width nothing overflows the window sideways (wide tables scroll in place).
    b.client.set_window_size(390, 844).await.expect("resize");
    b.goto(&format!("{base}/#/jobs")).await;
    b.until_text("#jobs-list", "alices-job", SHORT).await;
    let fits = b
        .until(
            "the page to fit 390 px",
            SHORT,
            "return document.documentElement.scrollWidth <= window.innerWidth ? true : \
             document.documentElement.scrollWidth + ' > ' + window.innerWidth",
            json!(null),
        )
        .await;
    assert_eq!(fits, json!(true), "the page overflows: {fits}");
    b.screenshot("phone-jobs").await;
    b.click(".job-link").await;
    b.until_text("main h1", "alices-job", SHORT).await;
    b.until(
        "the job's page to fit 390 px",
        SHORT,
        "return document.documentElement.scrollWidth <= window.innerWidth",
        json!(null),
    )
    .await;
    b.screenshot("phone-job").await;
    b.click("#sign-out").await;
    b.wait_for("#token").await;
    assert_eq!(
        storage(&b).await["session"],
        json!(0),
        "signed out: the token is gone"
    );
    b.close().await;
}

/// Where the page keeps what: `{session, local, cookie, in_url}`.
async fn storage(b: &Browser) -> serde_json::Value {
    b.client
        .execute(
            "return {session: sessionStorage.length, local: localStorage.length, \
             cookie: document.cookie, in_url: /dct_/.test(location.href)};",
            vec![],
        )
        .await
        .expect("script")
}
