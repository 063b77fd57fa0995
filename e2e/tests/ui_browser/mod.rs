//! A real browser for the web page's tests: Debian's headless Chromium driven through its
//! chromedriver (WebDriver, with fantoccini), one chromedriver per browser on a free port, a
//! profile of its own, and everything killed when the browser is dropped.

use distcron_e2e::{free_port, unique_name};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A page in headless Chromium.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    shots: PathBuf,
}

/// Where a program the test needs is: `$var`, else `default`; a missing one fails the test
/// saying how to install it (never a silent skip).
fn program(var: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_string()));
    assert!(
        path.exists(),
        "{} not found (set {var} to it): the web page's browser test needs Debian's headless \
         Chromium and its driver. `make test` (scripts/test-services.sh up) installs them; by \
         hand: apt-get install chromium chromium-driver",
        path.display()
    );
    path
}

impl Browser {
    /// Chromium at 1280×800 (what the page is drawn for on a desktop).
    pub async fn start() -> Browser {
        let chromedriver = program("DC_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("DC_TEST_CHROMIUM", "/usr/bin/chromium");
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("distcron-ui-{}", unique_name()));
        std::fs::create_dir_all(&profile).expect("browser profile");
        let log = std::fs::File::create(profile.with_extension("chromedriver.log")).expect("log");
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                // Its own process group: Chromium's processes go with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()))
        };
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !http
            .get(format!("{url}/status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver on {url} did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()), "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a WebDriver session in Chromium");
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.distcron/test/ui");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Browser {
            client,
            driver,
            profile,
            shots,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body; `arguments[0]` is `arg`) in the page until it returns
    /// something other than null or false, or panics after `timeout` saying what it waited for
    /// and what the page showed.
    pub async fn until(&self, what: &str, timeout: Duration, script: &str, arg: Value) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self
                .client
                .execute(script, vec![arg.clone()])
                .await
                .unwrap_or(Value::Null);
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if Instant::now() >= deadline {
                let text = self.text("main").await;
                panic!("timed out after {timeout:?} waiting for {what}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element `css` is there and its text contains `text`.
    pub async fn until_text(&self, css: &str, text: &str, timeout: Duration) -> String {
        let v = self
            .until(
                &format!("{css} to show {text:?}"),
                timeout,
                "const e = document.querySelector(arguments[0][0]); \
                 return e && e.innerText.includes(arguments[0][1]) ? e.innerText : null;",
                json!([css, text]),
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the element `css` ("" if there is none).
    pub async fn text(&self, css: &str) -> String {
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                vec![json!(css)],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits for the element `css` (up to 10 s) and clicks it; again if the page drew it anew
    /// between the finding and the click (a stale element).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.wait_for(css).await.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("clicking {css} again: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("clicking {css}: {e}"),
            }
        }
    }

    /// Waits for the element `css`, empties it and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("send keys");
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// A PNG of what the window shows, as `.distcron/test/ui/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.driver.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
