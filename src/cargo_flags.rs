//! The flags `cargo tiny build` and `doctor` pass through to cargo (features, lock and network): one
//! definition for the command line (clap flattens them into [`crate::cli`]) and for the plan.

use clap::Args;

/// Dependency-resolution flags passed through to cargo.
#[derive(Debug, Args, Clone, Default)]
pub struct ResolveArgs {
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network
    #[arg(long)]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long)]
    pub frozen: bool,
}

impl ResolveArgs {
    /// The flags as cargo takes them.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.locked {
            v.push("--locked".into());
        }
        if self.offline {
            v.push("--offline".into());
        }
        if self.frozen {
            v.push("--frozen".into());
        }
        v
    }
}

/// Feature selection flags passed through to cargo.
#[derive(Debug, Args, Clone, Default)]
pub struct FeatureArgs {
    /// Space or comma separated list of features to activate
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all available features
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long)]
    pub no_default_features: bool,
}

impl FeatureArgs {
    /// Every feature named with `--features`, split on commas and spaces.
    pub fn list(&self) -> Vec<String> {
        self.features
            .iter()
            .flat_map(|f| f.split([',', ' ']))
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn cargo_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        let list = self.list();
        if !list.is_empty() {
            v.push("--features".into());
            v.push(list.join(","));
        }
        if self.all_features {
            v.push("--all-features".into());
        }
        if self.no_default_features {
            v.push("--no-default-features".into());
        }
        v
    }
}
