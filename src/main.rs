//! The `threadline` command: `serve` (the default), `migrate`, `token`, `password-token` and
//! `schema`.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use threadline::{
    config::{self, CliError, Config},
    graphql,
    startup::{self, Application, DemoChoice, StartOptions},
    telemetry,
};

/// Threadline, a GraphQL gateway for customer relationship work.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With the default `serve`: do not create the demo organization.
    #[arg(long, global = true, conflicts_with = "demo")]
    no_demo: bool,
    /// With the default `serve`: create the demo organization on an empty database even when
    /// listening on a non-loopback address (needed there: without --demo or --no-demo the
    /// gateway refuses to start).
    #[arg(long, global = true)]
    demo: bool,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GraphQL (the default): migrates, creates the demo organization on an empty
    /// database (on a loopback listener unless --no-demo; elsewhere only with --demo), and
    /// prints the playground URL with a ready token.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print a token for a user.
    Token {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// How long the token lasts: 90s, 15m, 12h, 30d, 2w, or "1h 30m".
        #[arg(long, default_value = "7d", value_parser = config::human_duration)]
        ttl: Duration,
    },
    /// Print a one-time set-password token for a user (for a first password, or a forgotten
    /// one, when no email is set up): they choose a password with `setPasswordWithToken`.
    PasswordToken {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// How long the token works: 90s, 15m, 12h, 30d, 2w, or "1h 30m".
        #[arg(long, default_value = "24h", value_parser = config::human_duration)]
        ttl: Duration,
    },
    /// Print the GraphQL schema (SDL), as kept in schema/schema.graphql.
    Schema,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Flags, then the environment, then the defaults (see `config`).
    let cli = match config::parse_from::<Cli>(std::env::args_os(), |name| std::env::var(name).ok())
    {
        Ok(cli) => cli,
        Err(CliError::Usage(error)) => error.exit(),
        Err(CliError::Config(error)) => return Err(error.into()),
    };
    telemetry::init();
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let choice = match (cli.demo, cli.no_demo) {
                (true, _) => DemoChoice::Demo,
                (_, true) => DemoChoice::NoDemo,
                _ => DemoChoice::Default,
            };
            let demo = startup::decide_demo(config.listen, choice, config.jwt_secret.is_some())?;
            serve(&config, demo).await
        }
        Command::Migrate => {
            startup::open_database(&config, Default::default(), Default::default()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Token { user, ttl } => token(&config, &user, ttl).await,
        Command::PasswordToken { user, ttl } => password_token(&config, &user, ttl).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    }
}

async fn serve(config: &Config, demo: bool) -> anyhow::Result<()> {
    let app = Application::build(config, StartOptions { demo, timers: true }).await?;
    let addr = app.local_addr()?;
    println!();
    println!("  Threadline is serving GraphQL at http://{addr}/graphql");
    println!("  Playground:  http://{addr}/");
    match (&app.demo_password, app.demo_password_replaced.as_slice()) {
        (Some(password), []) => println!(
            "  Demo users (owner@, admin@, ana@, ben@, customer@demo.test) sign in with the \
             password: {password}"
        ),
        (Some(password), replaced) => {
            println!(
                "  The documented demo password works only on a loopback listener: it was \
                 replaced, and their sessions ended, for {}.",
                replaced.join(", ")
            );
            println!("  They now sign in with the password: {password}");
        }
        (None, _) => {}
    }
    match &app.demo_token {
        Some(token) => {
            println!("  Demo organization created. Token for owner@demo.test (valid 30 days):");
            println!();
            println!("  {token}");
            println!();
            println!(
                "  In the playground's Headers tab: {{\"Authorization\": \"Bearer {token}\"}}"
            );
        }
        None => println!("  Get a token with: cargo run --release -- token --user owner@demo.test"),
    }
    println!();
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

async fn token(config: &Config, email: &str, ttl: Duration) -> anyhow::Result<()> {
    let db = startup::open_database(config, Default::default(), Default::default()).await?;
    let keys = startup::token_keys(config, &db).await?;
    let user = entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq(email.trim().to_lowercase()))
        .one(&db)
        .await
        .context("looking up the user")?;
    let Some(user) = user else {
        bail!("no user with email {email}");
    };
    if !user.active {
        bail!("{email} is deactivated: its tokens would not work");
    }
    println!("{}", keys.issue(user.id, user.organization_id, ttl));
    Ok(())
}

async fn password_token(config: &Config, email: &str, ttl: Duration) -> anyhow::Result<()> {
    let db = startup::open_database(config, Default::default(), Default::default()).await?;
    let made = threadline::service::sessions::create_password_token_unchecked(&db, email, ttl)
        .await
        .map_err(|error| match error {
            threadline::error::ApiError::NotFound(_) => {
                anyhow::anyhow!("no user with email {email}")
            }
            other => anyhow::Error::new(other).context("making the set-password token"),
        })?;
    println!(
        "One-time set-password token for {} (works once, until {}):",
        made.user.email,
        made.expires_at.to_rfc3339()
    );
    println!();
    println!("  {}", made.token);
    println!();
    println!("They choose a password with this mutation (no access token needed), then sign in:");
    println!();
    println!(
        "  mutation {{ setPasswordWithToken(token: \"{}\", password: \"...\") }}",
        made.token
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
