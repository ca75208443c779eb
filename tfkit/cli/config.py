"""``tfkit config check`` and ``show``: a config validated, or resolved with every default (:mod:`tfkit.config`)."""

from tfkit.cli.options import load_config, with_config


def add_parsers(commands):
    config_command = commands.add_parser("config", help="Check a config, or show it resolved with every default.",
                                         description="Check a config, or show it resolved with every default.")
    actions = config_command.add_subparsers(dest="action", metavar="ACTION", required=True)
    with_config(actions, "check", "Validate a config: its keys, types, columns and model; exit 2 naming what is wrong.")
    with_config(actions, "show", "Print the resolved config as YAML: paths resolved, defaults filled in.")
    config_command.set_defaults(run=run)


def run(args):
    from tfkit import config as config_lib

    config = load_config(args)
    if args.action == "show":
        import yaml

        print(yaml.safe_dump(config_lib.with_model_defaults(config), sort_keys=False), end="")
        return
    from tfkit.data.checks import check_data_files

    columns, model = config_lib.check(config)
    check_data_files(config["data"], model.input_specs())
    if config["tuning"] is not None:
        from tfkit.tune.study import check

        check(args.config, args.set, config)
    print(f"{args.config}: OK ({type(model).__name__}, {len(columns)} feature column{'s' * (len(columns) != 1)}, "
          f"data.format {config['data']['format']})")
