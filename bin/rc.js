#!/usr/bin/env node
import { main } from "../dist/src/cli/rc-cli.js";

main(process.argv);
