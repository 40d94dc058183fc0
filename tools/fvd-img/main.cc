// fvd-img: create and inspect FVD images, with qemu-img's command names and options.
#include <iostream>

#include "core/util/build_info.h"
#include "tools/fvd-img/commands.h"

namespace fvd::img {

int Fail(const std::string& message) {
  std::cerr << "fvd-img: " << message << "\n";
  return 1;
}

}  // namespace fvd::img

int main(int argc, char** argv) {
  CLI::App app{"fvd-img: create and inspect FVD (Fast Virtual Disk) images", "fvd-img"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fvd::BuildIdentity("fvd-img"));
  int exit_code = 0;
  fvd::img::OpeningArgs opening;
  fvd::img::AddOpeningOptions(app, opening);
  fvd::img::AddCreateCommand(app, exit_code);
  fvd::img::AddInfoCommand(app, exit_code, opening);
  fvd::img::AddCheckCommand(app, exit_code, opening);
  fvd::img::AddUpdateCommand(app, exit_code, opening);
  fvd::img::AddIoCommand(app, exit_code, opening);
  fvd::img::AddMapCommand(app, exit_code, opening);
  fvd::img::AddBenchCommand(app, exit_code, opening);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, naming what was wrong, instead of CLI11's multi-line message.
    std::string where = app.get_subcommands().empty()
                            ? "fvd-img"
                            : "fvd-img " + app.get_subcommands()[0]->get_name();
    std::cerr << where << ": " << e.what() << " (see '" << where << " --help')\n";
    return 1;
  }
  return exit_code;
}
