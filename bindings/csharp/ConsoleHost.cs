// ConsoleHost.cs: a minimal game host in C# over the safe binding, the C# twin of
// native/examples/c_host.c. It loads a bundle, prints its action table, plays a scripted action
// sequence synchronously (the host owns the loop), prints the frame rate and writes the last frame
// as a binary PPM (RGB, alpha dropped).
//
//   mono vidgen_host.exe BUNDLE.vgrt [--frames 300] [--out last.ppm] [--threads N]
//                        [--seed S] [--temperature T] [--sampling-steps K] [--ort-library PATH]
//
// libvidgen_rt.so is found by the runtime's loader (LD_LIBRARY_PATH or a dllmap entry); ONNX
// Runtime through --ort-library, $VGRT_ORT_LIBRARY or the system loader. Exit status 0 on success,
// 1 with a one-line message on any error.
using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using VidgenRt;

public static class ConsoleHost
{
    // Hold forward, turn for a while, strafe, repeat (wrapped to the action count): c_host.c's script.
    private static readonly long[] Script = { 1, 1, 1, 1, 3, 3, 1, 1, 4, 4, 5, 6, 2, 0 };

    public static long ScriptedAction(int frame, int actionCount)
    {
        return Script[(frame / 10) % Script.Length] % actionCount;
    }

    public static int Main(string[] args)
    {
        try
        {
            return Run(args);
        }
        catch (Exception error) when (error is VidgenException || error is ArgumentException || error is IOException
                                       || error is FormatException || error is InvalidOperationException)
        {
            Console.Error.WriteLine("vidgen_host: " + error.Message);
            return 1;
        }
    }

    private static int Run(string[] args)
    {
        if (args.Length < 1 || args[0].StartsWith("-"))
            throw new ArgumentException("usage: vidgen_host.exe BUNDLE.vgrt [--frames 300] [--out last.ppm] [--threads N] "
                                        + "[--seed S] [--temperature T] [--sampling-steps K] [--ort-library PATH]");
        string bundle = args[0], outPath = "last_frame.ppm";
        int frames = 300;
        ModelOptions modelOptions = new ModelOptions();
        StreamOptions streamOptions = new StreamOptions();
        for (int i = 1; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length) throw new ArgumentException(args[i] + " needs a value");
            string value = args[i + 1];
            switch (args[i])
            {
                case "--frames": frames = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--out": outPath = value; break;
                case "--threads": modelOptions.IntraOpThreads = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--ort-library": modelOptions.OrtLibrary = value; break;
                case "--seed": streamOptions.Seed = ulong.Parse(value, CultureInfo.InvariantCulture); break;
                case "--temperature": streamOptions.Temperature = float.Parse(value, CultureInfo.InvariantCulture); break;
                case "--sampling-steps": streamOptions.SamplingSteps = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException("unknown option " + args[i]);
            }
        }
        if (frames < 1) throw new ArgumentException("--frames " + frames + ": expected >= 1");

        Library.CheckAbi();
        int messages = 0;
        Library.SetLogCallback((level, message) => System.Threading.Interlocked.Increment(ref messages), LogLevel.Info);
        using (Model model = new Model(bundle, modelOptions))
        using (VidgenRt.Stream stream = model.OpenStream(streamOptions))
        {
            ModelInfo info = model.Info;
            Console.WriteLine("vidgen_host: {0} {1}x{2} {3}, head {4}, batch sizes [{5}], vidgen_rt {6}", info.Name, info.Width,
                              info.Height, info.Precision, info.Head, string.Join(",", info.BatchSizes), Library.Version);
            foreach (ActionInfo action in model.Actions)
                Console.WriteLine("  action {0} {1} keys [{2}]", action.Id, action.Name, string.Join(",", action.Keys));
            byte[] rgba = new byte[stream.FrameBytes];
            long[] actions = new long[1];
            Stopwatch clock = Stopwatch.StartNew();
            for (int i = 0; i < frames; ++i)
            {
                actions[0] = ScriptedAction(i, info.ActionCount);
                stream.Step(actions, rgba);
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            Stats stats = stream.Stats;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                                            "vidgen_host: {0} frames in {1:F3} s = {2:F1} fps; step p50 {3:F3} ms, decode p50 {4:F3} ms",
                                            frames, elapsed, frames / elapsed, stats.Step.P50Ms, stats.Decode.P50Ms));
            WritePpm(outPath, rgba, info.Width, info.Height);
            Console.WriteLine("vidgen_host: wrote {0}; {1} runtime log messages at info level", outPath, messages);
        }
        Library.SetLogCallback(null);
        return 0;
    }

    private static void WritePpm(string path, byte[] rgba, int width, int height)
    {
        using (FileStream file = File.Create(path))
        {
            byte[] header = System.Text.Encoding.ASCII.GetBytes("P6\n" + width + " " + height + "\n255\n");
            file.Write(header, 0, header.Length);
            byte[] rgb = new byte[width * height * 3];
            for (int p = 0; p < width * height; ++p)
                Buffer.BlockCopy(rgba, 4 * p, rgb, 3 * p, 3);
            file.Write(rgb, 0, rgb.Length);
        }
    }
}
