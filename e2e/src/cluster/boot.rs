//! Booting a test cluster: its database and the roles' accounts, its managers and API
//! servers, and the wait until it is usable.

use super::*;

impl TestCluster {
    /// The database and the roles' accounts, as an operator would prepare them: with the
    /// administrator's account, which no distcron process gets.
    pub(super) async fn prepare_database(&mut self) {
        let admin_url = vec![(
            "DISTCRON_MYSQL__URL".to_string(),
            format!("{}/{}", self.mysql_server, self.database),
        )];
        self.run_once("migrate", vec!["migrate".into()], admin_url.clone())
            .await;
        for role in ["api", "manager", "worker"] {
            let password = random_hex(16);
            let file = self.dir.join(format!("mysql-{role}.password"));
            write_secret(&file, &password);
            let user = format!("{}_{role}", self.database);
            self.run_once(
                &format!("grant-{role}"),
                vec![
                    "grant".into(),
                    "--role".into(),
                    role.into(),
                    "--user".into(),
                    user.clone(),
                    "--password-file".into(),
                    file.display().to_string(),
                ],
                admin_url.clone(),
            )
            .await;
            let (scheme, host) = self.mysql_server.split_once("://").expect("a MySQL URL");
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            self.mysql_urls.insert(
                role,
                format!("{scheme}://{user}:{password}@{host}/{}", self.database),
            );
        }
    }

    /// The managers and the API servers, as the options ask.
    pub(super) fn add_managers_and_apis(
        &mut self,
        token_file: &std::path::Path,
        internal_token: &(String, String),
    ) {
        let options = self.options.clone();
        let s3_env = self.s3_env.clone();
        for i in 1..=options.managers {
            let name = format!("manager-{i}");
            let port = free_port();
            let mut env = vec![
                ("DISTCRON_LISTEN".into(), format!("127.0.0.1:{port}")),
                ("DISTCRON_MANAGER_ID".into(), name.clone()),
                (
                    "DISTCRON_BOOTSTRAP_ADMIN_TOKEN_FILE".into(),
                    token_file.display().to_string(),
                ),
                internal_token.clone(),
                self.run_uids_env(),
            ];
            env.extend(s3_env.iter().cloned());
            env.extend(s3_keys_env("manager"));
            env.extend(options.manager_env.iter().cloned());
            self.add("distcron-manager", &name, port, env);
        }
        for i in 1..=options.apis {
            let name = format!("api-{i}");
            let port = free_port();
            let mut env = vec![
                ("DISTCRON_LISTEN".into(), format!("127.0.0.1:{port}")),
                internal_token.clone(),
            ];
            env.extend(s3_env.iter().cloned());
            env.extend(s3_keys_env("api"));
            env.extend(options.api_env.iter().cloned());
            self.add("distcron-api", &name, port, env);
        }
    }

    /// Waits until every process is healthy, a leader leads and the bootstrap admin can use
    /// the API.
    pub(super) async fn wait_ready(&mut self) {
        for name in self.ports.keys().cloned().collect::<Vec<_>>() {
            self.wait_healthy(&name).await;
        }
        self.leader().await;
        // The bootstrap admin exists once the leader has run; then the API is usable. Asked of
        // an API server itself, so that the 401s before that do not count in HAProxy's
        // failed-authentication throttle; then once through HAProxy.
        let direct = ApiClient::new(self.url_of("api-1"), Some(self.admin_token.clone()));
        for admin in [direct, self.admin()] {
            eventually(
                "the bootstrap admin to be usable",
                Duration::from_secs(30),
                || {
                    let admin = admin.clone();
                    async move {
                        let a = admin
                            .try_request(reqwest::Method::GET, "/jobs", None)
                            .await
                            .ok()?;
                        a.status.is_success().then_some(())
                    }
                },
            )
            .await;
        }
    }

    /// Runs `distcron-manager <args>` to its end, and insists it succeeded.
    async fn run_once(&self, name: &str, args: Vec<String>, env: Vec<(String, String)>) {
        let mut proc = self.spawn_bin(name, "distcron-manager", args, env);
        let status = tokio::task::spawn_blocking(move || {
            let status = proc.wait_exit(Duration::from_secs(60));
            (status, proc.log_tail(20))
        })
        .await
        .expect("join");
        assert!(
            matches!(status.0, Some(s) if s.success()),
            "distcron-manager {name} failed:\n{}",
            status.1
        );
    }
}
