//! `cargo tiny push TARBALL [REFERENCE]`: the command line turned into plain values, then the registry
//! publisher ([`crate::publish::push`]) on the result read back from the tarball
//! ([`crate::publish::layout`]), reported by [`crate::report`].

use anyhow::Result;

use crate::cli::{MessageFormat, PushArgs, RegistryArgs};
use crate::publish::credentials::Env;
use crate::publish::layout;
use crate::publish::push::{plan, Registries, RegistryFlags, Settings};
use crate::reference;
use crate::shell::Shell;

/// `cargo tiny push`.
pub fn run(args: &PushArgs, shell: &Shell) -> Result<()> {
    let loaded = layout::read(&args.tarball)?;
    let built = loaded.reference.clone();
    let (name, tag) = match (&args.reference, &built) {
        (Some(r), _) => {
            let default_tag = built
                .as_deref()
                .and_then(|b| reference::split(b).1)
                .unwrap_or_else(|| "latest".into());
            let d = reference::parse(r, &default_tag)?;
            (d.name(), d.tag)
        }
        (None, Some(b)) => {
            let (n, t) = reference::split(b);
            (n, t.unwrap_or_else(|| "latest".into()))
        }
        (None, None) => crate::fail!(
            hint = "pass the destination: cargo tiny push TARBALL HOST/NAME:TAG",
            "{} does not say which name it was built as",
            args.tarball.display()
        ),
    };
    let flags = RegistryFlags::from(&args.registry);
    let plan = plan(&name, &tag, &[], &flags)?;
    let registries = Registries::new(
        Settings::new(&flags, Env::from_process())?,
        [plan.dest.host.as_str()],
    )?;
    for w in registries.warnings() {
        shell.warn(w);
    }
    let pushed = registries.push(&loaded.built, &plan, shell)?;
    crate::report::pushed(&plan.dest, &pushed, shell);
    if args.message_format == MessageFormat::Json {
        crate::report::push_message(&args.tarball, &pushed)?;
    }
    Ok(())
}

impl From<&RegistryArgs> for RegistryFlags {
    fn from(a: &RegistryArgs) -> RegistryFlags {
        RegistryFlags {
            tags: a.tag.clone(),
            registry_ca: a.registry_ca.clone(),
            insecure_registry: a.insecure_registry.clone(),
        }
    }
}
